//! The concurrency limit of a scope: at most `n` tasks run at once, the rest wait
//! in spawn order.
//!
//! A queue of oneshot senders rather than a `Semaphore`: a semaphore orders
//! waiters by their first poll, which on a multi-threaded runtime is not spawn
//! order. The slot is handed over under the lock, so no wake-up can be lost.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::sync::{Arc, Mutex, MutexGuard, oneshot};

pub(crate) struct Limiter {
    state: Arc<Mutex<LimiterState>>,
}

struct LimiterState {
    limit: usize,
    queue_limit: usize,
    running: usize,
    queue: VecDeque<oneshot::Sender<()>>,
}

/// A task's claim on a slot of its scope's limit.
#[derive(Default)]
pub(crate) struct Permit(Slot);

#[derive(Default)]
enum Slot {
    /// The scope has no limit.
    #[default]
    Unlimited,
    /// The task holds a slot.
    Held(Arc<Mutex<LimiterState>>),
    /// The task waits for a slot.
    Queued(Arc<Mutex<LimiterState>>, oneshot::Receiver<()>),
}

impl Limiter {
    pub(crate) fn new(limit: usize, queue_limit: Option<usize>) -> Self {
        Limiter {
            state: Arc::new(Mutex::new(LimiterState {
                limit,
                queue_limit: queue_limit.unwrap_or(usize::MAX),
                running: 0,
                queue: VecDeque::new(),
            })),
        }
    }

    /// Takes a slot, or a place in the queue; called in spawn order. `None`
    /// when the queue is full.
    pub(crate) fn admit(&self) -> Option<Permit> {
        let mut state = lock(&self.state);
        if state.running < state.limit {
            state.running += 1;
            Some(Permit(Slot::Held(Arc::clone(&self.state))))
        } else if state.queue.len() < state.queue_limit {
            let (tx, rx) = oneshot::channel();
            state.queue.push_back(tx);
            Some(Permit(Slot::Queued(Arc::clone(&self.state), rx)))
        } else {
            None
        }
    }
}

impl Permit {
    /// The scope has no limit: the permit holds nothing.
    pub(crate) fn is_unlimited(&self) -> bool {
        matches!(self.0, Slot::Unlimited)
    }

    pub(crate) fn is_queued(&self) -> bool {
        matches!(self.0, Slot::Queued(..))
    }

    /// Waits for the slot. Cancel safe: a slot handed over to a task that no
    /// longer waits is passed on when the permit is dropped.
    pub(crate) fn poll_acquire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Slot::Queued(state, rx) = &mut self.0 {
            // The sender is only ever dropped by `release` after a failed send to
            // a closed receiver, which this one is not: `Ok` is the only outcome.
            let _ = std::task::ready!(Pin::new(rx).poll(cx));
            let state = Arc::clone(state);
            self.0 = Slot::Held(state);
        }
        Poll::Ready(())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        match std::mem::take(&mut self.0) {
            Slot::Unlimited => {}
            Slot::Held(state) => release(&state),
            Slot::Queued(state, mut rx) => {
                rx.close();
                if rx.try_recv().is_ok() {
                    // A slot was handed over just before we gave up: pass it on.
                    release(&state);
                }
            }
        }
    }
}

fn release(state: &Mutex<LimiterState>) {
    let mut state = lock(state);
    while let Some(next) = state.queue.pop_front() {
        if next.send(()).is_ok() {
            return;
        }
    }
    state.running -= 1;
}

fn lock(state: &Mutex<LimiterState>) -> MutexGuard<'_, LimiterState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The hand-over protocol under every interleaving loom can find: a slot is
/// never lost or duplicated, whoever gives up or releases concurrently.
#[cfg(all(test, scope_spawn_loom))]
mod loom_model {
    use super::*;

    fn running(limiter: &Limiter) -> usize {
        lock(&limiter.state).running
    }

    /// Whether the permit holds a slot, taking a handed-over one.
    fn holds_slot(permit: &mut Permit) -> bool {
        if let Slot::Queued(state, rx) = &mut permit.0 {
            if rx.try_recv().is_err() {
                return false;
            }
            let state = Arc::clone(state);
            permit.0 = Slot::Held(state);
        }
        matches!(permit.0, Slot::Held(_))
    }

    #[test]
    fn loom_a_waiter_giving_up_during_a_hand_over_loses_no_slot() {
        loom::model(|| {
            let limiter = Limiter::new(1, None);
            let held = limiter.admit().unwrap();
            let queued = limiter.admit().unwrap();
            assert!(queued.is_queued());
            let release = loom::thread::spawn(move || drop(held));
            let give_up = loom::thread::spawn(move || drop(queued));
            release.join().unwrap();
            give_up.join().unwrap();
            assert_eq!(running(&limiter), 0, "the slot came back");
            assert!(!limiter.admit().unwrap().is_queued());
        });
    }

    #[test]
    fn loom_a_release_hands_the_slot_to_the_next_live_waiter() {
        loom::model(|| {
            let limiter = Limiter::new(1, None);
            let held = limiter.admit().unwrap();
            let first = limiter.admit().unwrap();
            let mut second = limiter.admit().unwrap();
            let release = loom::thread::spawn(move || drop(held));
            let give_up = loom::thread::spawn(move || drop(first));
            release.join().unwrap();
            give_up.join().unwrap();
            // Exactly one slot is in use, and it is the second waiter's.
            assert_eq!(running(&limiter), 1);
            assert!(holds_slot(&mut second));
            drop(second);
            assert_eq!(running(&limiter), 0);
        });
    }

    #[test]
    fn loom_concurrent_admits_never_exceed_the_limit() {
        loom::model(|| {
            let limiter = Arc::new(Limiter::new(1, None));
            let other = Arc::clone(&limiter);
            let spawned = loom::thread::spawn(move || other.admit().unwrap());
            let mine = limiter.admit().unwrap();
            let theirs = spawned.join().unwrap();
            assert!(
                mine.is_queued() != theirs.is_queued(),
                "exactly one runs, one waits"
            );
            drop(mine);
            drop(theirs);
            assert_eq!(running(&limiter), 0);
        });
    }
}
