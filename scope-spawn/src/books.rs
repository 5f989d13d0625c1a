//! A scope's books: what keeps it alive and what it waits for ([`Holds`]),
//! and its tasks and active children in the order they came ([`Ledger`]).
//!
//! Both are built for the spawn path: admitting a task costs one atomic
//! increment and one push under a lock that only spawners take, and a task
//! leaves the books with one atomic decrement — it never takes a lock, so the
//! worker that runs a task does not fight the worker that spawns the next.
//! Likewise a request scope that ends takes no lock of its server's root.

use std::sync::{Arc, Weak};

use smallvec::SmallVec;

use crate::scope::ScopeInner;
use crate::sync::{AtomicU64, Notify, Ordering};
use crate::task::TaskRecord;

/// Someone waits for the count to reach zero (`join`, a finalizer runner):
/// the task that brings it there wakes them.
const WAITED: u64 = 1;
/// One live task or active child scope: what `join` waits for.
const ONE: u64 = 2;
const COUNT: u64 = (1 << 32) - ONE;
/// One keeper: the guard, or finalizers waiting to run. A keeper keeps the
/// scope from ending but is not waited for.
const KEEPER: u64 = 1 << 32;

/// What taking back a hold left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Released {
    /// Others still count.
    Held,
    /// The last task or active child has left; keepers remain.
    Idle,
    /// Nobody holds the scope any more: it has ended.
    Ended,
}

/// Who holds a scope: its keepers, its live tasks and its active child scopes,
/// in one word. The scope has **ended** when nobody holds it; an ended scope
/// can never be held again, so it refuses every task.
///
/// The word comes first (`repr(C)`): first in a scope, it sits 16 bytes after
/// the `Arc`'s strong count, which a spawn and a settling task also write, so
/// that the two share a cache line wherever the allocator puts the scope but
/// for one placement in four (left to itself, the compiler put the `Notify`
/// first, and the two were on different lines for three placements in four:
/// two line transfers per task instead of one).
#[repr(C)]
pub(crate) struct Holds {
    word: AtomicU64,
    idle: Notify,
}

impl Holds {
    /// Where the word is in `Holds` (see the layout note above).
    #[cfg(all(test, not(scope_spawn_loom)))]
    pub(crate) const WORD_OFFSET: usize = std::mem::offset_of!(Holds, word);

    /// Holds with one keeper (the guard), or none: a scope born ended.
    pub(crate) fn new(kept: bool) -> Self {
        Holds {
            word: AtomicU64::new(if kept { KEEPER } else { 0 }),
            idle: Notify::const_new(),
        }
    }

    /// Adds `amount` unless the scope has ended.
    fn try_add(&self, amount: u64) -> bool {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & !WAITED == 0 {
                return false;
            }
            // Sequentially consistent, like `is_idle`: a cancellation that
            // raises its flag and then finds the scope idle is ordered with a
            // task that is counted and then reads the flag (see `gate`).
            match self.word.compare_exchange_weak(
                word,
                word + amount,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Counts one task or active child, unless the scope has ended.
    pub(crate) fn try_count(&self) -> bool {
        self.try_add(ONE)
    }

    /// Adds a keeper, unless the scope has ended.
    pub(crate) fn try_keep(&self) -> bool {
        self.try_add(KEEPER)
    }

    /// Takes back a count.
    #[must_use]
    pub(crate) fn uncount(&self) -> Released {
        self.release(ONE)
    }

    /// Takes back a keeper.
    #[must_use]
    pub(crate) fn unkeep(&self) -> Released {
        self.release(KEEPER)
    }

    fn release(&self, amount: u64) -> Released {
        let before = self.word.fetch_sub(amount, Ordering::AcqRel);
        let after = before - amount;
        let emptied = before & COUNT != 0 && after & COUNT == 0;
        if emptied && before & WAITED != 0 {
            self.idle.notify_waiters();
        }
        if after & !WAITED == 0 {
            Released::Ended
        } else if emptied {
            Released::Idle
        } else {
            Released::Held
        }
    }

    /// Whether the only hold is one keeper: no task or active child is
    /// counted, and nobody waits.
    pub(crate) fn is_kept_only(&self) -> bool {
        self.word.load(Ordering::Acquire) == KEEPER
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.word.load(Ordering::Acquire) & !WAITED == 0
    }

    /// Whether no task or active child is counted.
    pub(crate) fn is_idle(&self) -> bool {
        self.word.load(Ordering::SeqCst) & COUNT == 0
    }

    /// Waits until no task or active child is counted. Tasks admitted while it
    /// waits are waited for too.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Raise the flag after enabling: a task that brings the count to
            // zero after this reads it and wakes us.
            if self.raise_waited() {
                return;
            }
            notified.await;
        }
    }

    /// Raises the flag that someone waits; true if no task or active child
    /// was counted then. Call it only with a notification enabled.
    fn raise_waited(&self) -> bool {
        self.word.fetch_or(WAITED, Ordering::AcqRel) & COUNT == 0
    }
}

/// The idle wake-up under every interleaving loom can find: a waiter either
/// sees no task counted, or the last task to leave wakes it.
#[cfg(all(test, scope_spawn_loom))]
mod loom_model {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Wake, Waker};

    use super::*;
    use crate::sync::Arc;

    /// A waker that unparks a loom thread.
    struct Unpark(loom::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Drives `future` on this loom thread, parking it while the future is
    /// pending.
    fn block_on<F: Future>(future: F) -> F::Output {
        let waker = Waker::from(std::sync::Arc::new(Unpark(loom::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            loom::thread::park();
        }
    }

    /// A scope kept by its guard, with two tasks that leave on their own
    /// threads.
    fn two_tasks_leaving() -> (Arc<Holds>, [loom::thread::JoinHandle<()>; 2]) {
        let holds = Arc::new(Holds::new(true));
        assert!(holds.try_count() && holds.try_count());
        let leave = || {
            let holds = Arc::clone(&holds);
            loom::thread::spawn(move || {
                assert_ne!(
                    holds.uncount(),
                    Released::Ended,
                    "the guard keeps the scope"
                )
            })
        };
        let leaving = [leave(), leave()];
        (holds, leaving)
    }

    #[test]
    fn loom_a_waiter_is_woken_by_the_last_task_to_leave() {
        loom::model(|| {
            let (holds, leaving) = two_tasks_leaving();
            // The steps of `idle`, one round.
            let mut notified = pin!(holds.idle.notified());
            notified.as_mut().enable();
            let saw_idle = holds.raise_waited();
            for task in leaving {
                task.join().unwrap();
            }
            // Enabling again tells whether it has been notified since.
            assert!(
                saw_idle || notified.as_mut().enable(),
                "the waiter saw tasks counted and was never woken"
            );
        });
    }

    /// `idle` itself: a lost wake-up leaves it asleep, which loom reports as
    /// a deadlock.
    #[test]
    fn loom_idle_returns_once_the_last_task_has_left() {
        loom::model(|| {
            let (holds, leaving) = two_tasks_leaving();
            block_on(holds.idle());
            assert!(holds.is_idle());
            for task in leaving {
                task.join().unwrap();
            }
        });
    }
}

/// What a [`Ledger`] lists until it is gone.
pub(crate) trait Entry {
    fn is_gone(&self) -> bool;
}

/// A task has gone once it has settled.
impl Entry for Arc<TaskRecord> {
    fn is_gone(&self) -> bool {
        self.is_settled()
    }
}

/// A child scope has gone once it has ended.
impl Entry for Weak<ScopeInner> {
    fn is_gone(&self) -> bool {
        self.upgrade().is_none_or(|child| child.holds.is_ended())
    }
}

/// A list in the order of arrival — a scope's tasks, or its active children —
/// from which gone entries are not removed one by one (that would put the
/// list's lock on every task's and every request scope's way out): they are
/// swept out when the list has doubled since the last sweep, and when the
/// scope becomes idle or ends (by whoever brings that about, if the lock is
/// free then). So the list holds at most about twice the entries that were
/// live at once since the scope was last idle.
pub(crate) struct Ledger<T> {
    /// The first entries inline: a scope with a task or two (say, a request
    /// scope) allocates no list.
    entries: SmallVec<[T; INLINE]>,
    sweep_at: usize,
}

/// How much a [`Ledger`] holds, kept beside its lock (as a `u8`) so that
/// whoever would sweep it can tell, without the lock, whether it is worth
/// sweeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Listed {
    /// Empty.
    Nothing = 0,
    /// No more entries than it keeps inline: at most a few settled tasks
    /// (with their task cells) or ended children, which may wait for the next
    /// sweep or for the scope to go.
    Few = 1,
    /// More: worth sweeping as soon as the scope is idle.
    Many = 2,
}

/// How many entries a list holds before it allocates: two fit in the 24
/// bytes of a `Vec`'s own fields.
const INLINE: usize = 2;

/// The smallest list that is swept.
const MIN_SWEEP: usize = 32;

impl<T: Entry> Ledger<T> {
    pub(crate) const fn new() -> Self {
        Ledger {
            entries: SmallVec::new_const(),
            sweep_at: MIN_SWEEP,
        }
    }

    pub(crate) fn push(&mut self, entry: T) {
        if self.entries.len() >= self.sweep_at {
            self.sweep();
        }
        self.entries.push(entry);
    }

    /// Removes the entries that have gone; says what is left.
    pub(crate) fn sweep(&mut self) -> Listed {
        self.entries.retain(|entry| !entry.is_gone());
        self.sweep_at = (self.entries.len() * 2).max(MIN_SWEEP);
        if self.entries.is_empty() && self.entries.capacity() > MIN_SWEEP {
            self.entries = SmallVec::new();
        }
        self.listed()
    }

    /// How much the list holds.
    pub(crate) fn listed(&self) -> Listed {
        match self.entries.len() {
            0 => Listed::Nothing,
            1..=INLINE => Listed::Few,
            _ => Listed::Many,
        }
    }

    /// How many entries are listed, gone or not.
    #[cfg(all(test, not(scope_spawn_loom)))]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries that have not gone, in the order they came.
    pub(crate) fn live(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().filter(|entry| !entry.is_gone())
    }
}

impl<T: Entry> Default for Ledger<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(scope_spawn_loom)))]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    /// An entry that is gone once its flag says so.
    struct Flag(Rc<Cell<bool>>);

    impl Entry for Flag {
        fn is_gone(&self) -> bool {
            self.0.get()
        }
    }

    #[test]
    fn a_ledger_holds_at_most_about_twice_its_live_entries() {
        let mut ledger = Ledger::new();
        let mut live = Vec::new();
        for i in 0..10_000 {
            let flag = Rc::new(Cell::new(false));
            ledger.push(Flag(Rc::clone(&flag)));
            live.push(flag);
            // Keep the 10 newest entries live; the older ones go.
            if live.len() > 10 {
                live.remove(0).set(true);
            }
            assert!(
                ledger.entries.len() <= 2 * MIN_SWEEP + 1,
                "entry {i}: {} listed",
                ledger.entries.len()
            );
        }
        assert_eq!(ledger.live().count(), 10);
    }

    #[test]
    fn a_ledger_of_two_entries_allocates_nothing_and_is_no_larger_than_a_vec() {
        let mut ledger = Ledger::new();
        let flags: Vec<_> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
        ledger.push(Flag(Rc::clone(&flags[0])));
        ledger.push(Flag(Rc::clone(&flags[1])));
        assert!(!ledger.entries.spilled(), "two entries stay inline");
        ledger.push(Flag(Rc::clone(&flags[2])));
        assert!(ledger.entries.spilled(), "a third one allocates");
        assert_eq!(
            std::mem::size_of::<SmallVec<[Flag; INLINE]>>(),
            std::mem::size_of::<Vec<Flag>>()
        );
    }

    #[test]
    fn a_ledger_keeps_live_entries_in_the_order_they_came() {
        let mut ledger = Ledger::new();
        let flags: Vec<_> = (0..100).map(|_| Rc::new(Cell::new(false))).collect();
        for (i, flag) in flags.iter().enumerate() {
            ledger.push(Flag(Rc::clone(flag)));
            if i % 3 == 0 {
                flag.set(true);
            }
        }
        let order: Vec<usize> = ledger
            .live()
            .map(|entry| flags.iter().position(|f| Rc::ptr_eq(f, &entry.0)).unwrap())
            .collect();
        let expected: Vec<usize> = (0..100).filter(|i| i % 3 != 0).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn holds_end_when_the_last_keeper_and_count_are_gone_and_never_revive() {
        let holds = Holds::new(true);
        assert!(holds.try_count() && holds.try_count());
        assert_eq!(holds.uncount(), Released::Held);
        assert_eq!(holds.uncount(), Released::Idle, "the guard keeps it");
        assert!(holds.try_count());
        assert_eq!(
            holds.unkeep(),
            Released::Held,
            "a task still holds the scope"
        );
        assert!(!holds.is_ended());
        assert_eq!(holds.uncount(), Released::Ended, "the last hold ends it");
        assert!(holds.is_ended());
        assert!(
            !holds.try_count() && !holds.try_keep(),
            "an ended scope stays ended"
        );
        assert!(!Holds::new(false).try_count(), "born ended");
    }
}
