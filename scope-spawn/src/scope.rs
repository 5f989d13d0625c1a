//! The scope itself: [`Scope`] handles and the [`ScopeGuard`] that owns a scope's lifetime.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError, Weak};
use std::time::Duration;

use once_cell::race::OnceBox;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::books::{Entry, Holds, Ledger, Listed, Released};
use crate::current;
use crate::limit::Limiter;
use crate::name::ScopeName;
use crate::reason::ReasonCell;
use crate::sync::AtomicBool;
use crate::task::{CatchUnwind, TaskRecord, panic_message};
use crate::{
    CancelReason, FailureKind, InScope, Policy, ScopeBuilder, ScopeError, TaskFailure, TaskId,
};

pub(crate) type Name = Cow<'static, str>;

/// How long `shutdown` waits for aborted tasks to stop after its deadline.
const ABORT_GRACE: Duration = Duration::from_secs(1);
pub(crate) type Finalizer = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A unique, process-wide identifier of a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ScopeId(u64);

impl ScopeId {
    fn next() -> Self {
        ScopeId(crate::id::next_scope_id())
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ScopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle to a scope: a group of tokio tasks that are cancelled, joined and
/// shut down together.
///
/// `Scope` is cheap to clone (one reference count) and is `Send + Sync + 'static`:
/// it is what handlers, tasks, request extensions and [`Scope::current`] carry.
/// **Cloning or dropping a `Scope` never cancels anything**; the scope's lifetime
/// is owned by its [`ScopeGuard`], which derefs to `Scope`.
///
/// # Examples
///
/// ```
/// use scope_spawn::Scope;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let guard = Scope::new();
/// let scope = guard.clone(); // a `Scope` handle
/// let handle = scope.spawn(async { 40 + 2 });
/// drop(scope); // cancels nothing
/// assert_eq!(handle.await.unwrap(), 42);
/// guard.join().await.unwrap();
/// # }
/// ```
///
/// # Comparison to `CancellationToken` + `TaskTracker`
///
/// A scope does the job of that pair — a shared cancellation signal and a
/// count of live tasks to wait on — with bookkeeping of its own built for the
/// spawn path (a task joins its scope with one compare-and-swap and a push
/// under a lock that only spawners take, and leaves it without a lock, and
/// cancellation aborts the tasks like `JoinSet::abort_all` instead of waking a
/// waiter per task), and adds what the hand-made composition leaves out:
/// ownership that a stray clone cannot end,
/// a cancellation reason, panics that are reported instead of lost, deadlines,
/// a concurrency limit, context and the tracing span carried into tasks,
/// finalizers, `join` and `shutdown` with a deadline that really stops stragglers,
/// and a snapshot of what is running.
#[derive(Clone)]
pub struct Scope {
    pub(crate) inner: Arc<ScopeInner>,
}

// A scope is a small part that every scope needs — its books, flags, reason
// code, parent, id and name: 112 bytes, one 128-byte allocation with the
// `Arc`'s counts, built without a call to `memcpy` — and the rest (`Rest`:
// its deadline, limit, locks and lists, context, finalizers, token, own
// timer), made when first needed. A root, a scope born ended, or one with a
// deadline (its own or inherited) or a limit makes it at once; any other
// child makes it when it is first used (its first task or finalizer, or
// that of a scope below it, a context value or token, or a cancel reason
// with data), so a request scope that nobody spawns into is the small part
// alone, as its end is a few loads (see `ScopeGuard::unreachable`).
//
// The layout is fixed (`repr(C)`) for the spawn path. What a spawn and a
// settling task both write — the `Arc`'s count, just before these fields, and
// `holds`' word (see `Holds`) — comes first; the flags every spawn reads (and
// almost nothing writes) come last, at least a cache line away from those
// words wherever the allocator puts the scope, so that a worker reading them (a spawn attaching
// its task, after the other worker's settling task took the first line away)
// finds them in its own cache. The task list's lock, which spawners take, is
// in the rest, with what spawners write under it (`tasks_listed`), so that a
// task settling on one worker does not steal it from a spawner on the other.
#[repr(C)]
pub(crate) struct ScopeInner {
    /// Who holds the scope: its guard, its live tasks, its active children.
    pub(crate) holds: Holds,
    pub(crate) parent: Option<Scope>,
    pub(crate) id: ScopeId,
    pub(crate) name: ScopeName,
    rest: OnceBox<Rest>,
    /// Set once the scope or an ancestor is cancelled. Cancellation aborts the
    /// scope's tasks (like `JoinSet::abort_all`), so tasks need no waiter.
    pub(crate) cancelled: AtomicBool,
    /// A shutdown's deadline has passed: tasks attached from now on are aborted.
    pub(crate) aborting: AtomicBool,
    timer_pending: AtomicBool,
    /// Whether a finalizer was ever registered (see `ScopeGuard::quiescent`).
    deferred: AtomicBool,
    /// Whether the scope has joined its parent's tree (see [`Scope::activate`]).
    activation: AtomicU8,
    pub(crate) policy: Policy,
    /// Why the scope was cancelled (its data, if any, is in the rest).
    reason: ReasonCell,
}

/// The part of a scope that not every scope needs (see [`ScopeInner`]).
///
/// Laid out (`repr(C)`) with what every spawn reads or writes first — the
/// deadline and limit it checks, the shutdown flag, the task list's lock and
/// what it writes under it — so that a spawn touches as few of its lines as
/// it can; a task settling elsewhere writes none of them.
#[repr(C)]
pub(crate) struct Rest {
    /// Before the deadline rather than after it: next to the deadline's
    /// padding, the compiler built this `None` and the flags below on the
    /// stack and copied them over, reading back bytes it had just written in
    /// narrower pieces, which waits for those writes to land.
    pub(crate) limiter: Option<Limiter>,
    /// The effective deadline: the earliest of this scope's and its
    /// ancestors'. (A scope with one makes its rest at once.)
    deadline: Option<Instant>,
    /// Read by every spawn under the task list's lock, so it sits by it.
    shutting_down: AtomicBool,
    /// How much the task list holds, and the list of children in `state`
    /// (a [`Listed`]): written when an entry is listed and by a sweep (both
    /// under the list's lock), read without it, so that a scope becoming idle
    /// or ending takes no lock to sweep a list that is empty, or that holds
    /// only a few entries while the scope is merely idle — the common end of
    /// a request scope's task.
    tasks_listed: AtomicU8,
    children_listed: AtomicU8,
    /// The tasks, in spawn order. Spawners, cancellation and introspection
    /// take this lock; a settling task only tries it (`try_lock`), and only
    /// when it leaves the scope idle with tasks listed, to sweep them.
    tasks: Mutex<Ledger<Arc<TaskRecord>>>,
    /// This scope's own deadline, when it needs a timer of its own (it is
    /// earlier than every ancestor's). The timer is armed on first use.
    timer: Option<Instant>,
    /// When a root scope was created. A child's starts its life in the tree
    /// when it is activated (`State::activated`): before that it costs not
    /// even a clock read.
    created: Option<Instant>,
    /// For `token()` and `cancelled()`: created on demand, cancelled with the
    /// scope, a child of the parent's.
    token: OnceLock<CancellationToken>,
    /// The data of a cancel reason that has some (see [`ReasonCell`]).
    reason: OnceLock<CancelReason>,
    pub(crate) state: Mutex<State>,
}

impl Default for Rest {
    /// The rest of a child scope made on its first use.
    #[inline]
    fn default() -> Self {
        Rest::new(None, None, None, None)
    }
}

impl Rest {
    fn new(
        deadline: Option<Instant>,
        limiter: Option<Limiter>,
        timer: Option<Instant>,
        created: Option<Instant>,
    ) -> Self {
        Rest {
            deadline,
            limiter,
            timer,
            created,
            token: OnceLock::new(),
            reason: OnceLock::new(),
            state: Mutex::new(State::default()),
            shutting_down: AtomicBool::new(false),
            tasks_listed: AtomicU8::new(Listed::Nothing as u8),
            children_listed: AtomicU8::new(Listed::Nothing as u8),
            tasks: Mutex::new(Ledger::new()),
        }
    }

    pub(crate) fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent: every
        // critical section is a single insert, remove or take.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn lock_tasks(&self) -> MutexGuard<'_, Ledger<Arc<TaskRecord>>> {
        // Every critical section is a push, a sweep or a read.
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lists a task (under the task list's lock, `tasks`).
    pub(crate) fn list_task(&self, tasks: &mut Ledger<Arc<TaskRecord>>, record: Arc<TaskRecord>) {
        tasks.push(record);
        self.tasks_listed
            .store(tasks.listed() as u8, Ordering::Release);
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// The active children (see [`Scope::activate`]).
    children: Ledger<Weak<ScopeInner>>,
    /// When the scope was activated (see [`Scope::activate`]).
    activated: Option<Instant>,
    context: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    finalizers: Vec<Finalizer>,
    pub(crate) failures: Vec<TaskFailure>,
    /// The guard is gone: finalizers registered from now on run in the background.
    ending: bool,
}

/// Sweeps the list behind `lock` if its flag says it holds at least `least`
/// and the lock is free, and sets the flag to what is left (under the lock,
/// as every write of a listed flag is).
fn sweep_listed<G, T: Entry>(
    listed: &AtomicU8,
    least: Listed,
    lock: &Mutex<G>,
    list: impl FnOnce(&mut G) -> &mut Ledger<T>,
) {
    if listed.load(Ordering::Acquire) < least as u8 {
        return;
    }
    let mut guard = match lock.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    let left = list(&mut guard).sweep();
    listed.store(left as u8, Ordering::Release);
}

// `ScopeInner::activation` states.
const IDLE: u8 = 0;
const ACTIVE: u8 = 1;
/// Activation failed: the parent had ended.
const ORPHANED: u8 = 2;

impl ScopeInner {
    /// The rest of the scope, made now if it was not.
    pub(crate) fn rest(&self) -> &Rest {
        self.rest.get_or_init(Box::default)
    }

    /// The rest of the scope, if it has been made: a scope without it has no
    /// task, child, finalizer, context value, token or limit.
    pub(crate) fn made(&self) -> Option<&Rest> {
        self.rest.get()
    }

    pub(crate) fn lock_state(&self) -> MutexGuard<'_, State> {
        self.rest().lock_state()
    }

    pub(crate) fn lock_tasks(&self) -> MutexGuard<'_, Ledger<Arc<TaskRecord>>> {
        self.rest().lock_tasks()
    }

    fn token(&self) -> Option<&CancellationToken> {
        self.made()?.token.get()
    }

    /// Records the cancel reason, unless one was recorded before; true if it
    /// was this one.
    fn set_reason(&self, reason: CancelReason) -> bool {
        self.reason.set(reason, || &self.rest().reason)
    }

    fn reason(&self) -> Option<CancelReason> {
        self.reason.get(|| Some(&self.made()?.reason))
    }

    /// The scope's live tasks, counted without making its rest.
    fn live_task_count(&self) -> usize {
        self.made()
            .map_or(0, |rest| rest.lock_tasks().live().count())
    }
}

pub(crate) struct Settings {
    /// The name, unless it is joined in place (see [`Scope::build`]).
    pub(crate) name: ScopeName,
    pub(crate) timeout: Option<Duration>,
    pub(crate) limit: Option<usize>,
    pub(crate) queue_limit: Option<usize>,
    pub(crate) policy: Policy,
    pub(crate) parent: Option<Scope>,
}

impl ScopeInner {
    /// A new scope's small part before its own fields are filled in (see
    /// [`Scope::build`]): a kept child of nothing, named with a blank
    /// inline name.
    #[inline]
    fn blank() -> Self {
        ScopeInner {
            holds: Holds::new(true),
            cancelled: AtomicBool::new(false),
            aborting: AtomicBool::new(false),
            timer_pending: AtomicBool::new(true),
            deferred: AtomicBool::new(false),
            activation: AtomicU8::new(IDLE),
            policy: Policy::Supervise,
            reason: ReasonCell::default(),
            parent: None,
            id: ScopeId(0),
            name: ScopeName::blank(),
            rest: OnceBox::new(),
        }
    }
}

impl Scope {
    /// Creates a root scope, returning the guard that owns it.
    ///
    /// Dropping the guard cancels the scope with [`CancelReason::Dropped`].
    #[must_use = "dropping the guard cancels the scope at once"]
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ScopeGuard {
        ScopeBuilder::new().build()
    }

    /// Returns a builder for a scope with a name, timeout, limit, policy or parent.
    pub fn builder() -> ScopeBuilder {
        ScopeBuilder::new()
    }

    /// Creates a child scope: cancelled when this scope is cancelled (with
    /// [`CancelReason::ParentCancelled`]), counted by this scope's `join`,
    /// `shutdown`, [`live_tasks`](Scope::live_tasks) and
    /// [`snapshot`](Scope::snapshot), and seeing this scope's context.
    ///
    /// A child costs its parent nothing until it is first used — its first
    /// task or finalizer, or that of a scope below it: only then does it
    /// join the parent's tree. An idle child does not show in snapshots and
    /// does not hold up the parent's `join`. Until it is used (or given a
    /// context value or a token), a child without a deadline or limit is
    /// also one small allocation (128 bytes), made without locks: a request
    /// scope that nobody spawns into is cheap.
    #[must_use = "dropping the guard cancels the scope at once"]
    pub fn child(&self) -> ScopeGuard {
        ScopeBuilder::new().parent(self).build()
    }

    /// Builds a scope with `settings`, its name joined in place from `join`
    /// if that is given (see [`ScopeName::join_in_place`]).
    pub(crate) fn build(settings: Settings, join: Option<&[&str]>) -> ScopeGuard {
        let Settings {
            timeout,
            limit,
            queue_limit,
            policy,
            parent,
            ..
        } = settings;
        let now = (timeout.is_some() || parent.is_none()).then(Instant::now);
        let own_deadline = timeout.and_then(|t| now?.checked_add(t));
        let parent_deadline = parent.as_ref().and_then(Scope::deadline);
        let deadline = match (own_deadline, parent_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let id = ScopeId::next();
        // A child of an ended scope is born ended: it refuses every spawn.
        let born_ended = parent.as_ref().is_some_and(Scope::is_ended);
        let root = parent.is_none();
        // Only the earliest deadline needs a timer: a parent's own timer
        // cancels this scope.
        let timer = own_deadline.filter(|own| parent_deadline.is_none_or(|p| *own < p));
        let limiter = limit.map(|limit| Limiter::new(limit, queue_limit));
        let rest = OnceBox::new();
        if root || born_ended || deadline.is_some() || limiter.is_some() {
            let made = Rest::new(deadline, limiter, timer, now.filter(|_| root));
            made.lock_state().ending = born_ended;
            let _ = rest.set(Box::new(made));
        }
        // The small part is allocated blank and filled in where it is. Made
        // whole on the stack and copied instead, its fields — a joined name
        // written piece by piece, the flag bytes — would be read back right
        // after in wide moves that wait for those narrow writes (failed
        // store-to-load forwards), which cost more than the rest of the
        // build.
        let mut inner = Arc::new(ScopeInner::blank());
        let fresh = Arc::get_mut(&mut inner).expect("a scope just made has no other handle");
        fresh.id = id;
        fresh.parent = parent;
        fresh.policy = policy;
        fresh.rest = rest;
        if born_ended {
            fresh.holds = Holds::new(false);
        }
        // When the name is joined here, `settings.name` is a placeholder,
        // and is not read.
        match join {
            Some(parts) => fresh.name.join_in_place(parts),
            None => fresh.name = settings.name,
        }
        ScopeGuard {
            scope: Some(Scope { inner }),
            kept: !born_ended,
        }
    }

    /// Takes back a task's count (see [`Holds`]); ends the scope if that was
    /// the last hold.
    pub(crate) fn uncount(&self) {
        self.released(self.inner.holds.uncount(), false);
    }

    /// [`uncount`](Scope::uncount) through a handle that the caller drops
    /// right after (a settling task's).
    pub(crate) fn uncount_leaving(&self) {
        self.released(self.inner.holds.uncount(), true);
    }

    /// Takes back a keeper, through a handle that the caller drops right
    /// after (a guard's, a finalizer runner's); ends the scope if that was
    /// the last hold.
    fn unkeep_leaving(&self) {
        self.released(self.inner.holds.unkeep(), true);
    }

    /// Sweeps the lists of settled tasks and ended children when the scope
    /// has just become idle or ended, if their locks are free: after a burst
    /// they do not keep its tasks' records (and tokio's task cells, through
    /// their abort handles) until the next spawn. Every listed task has
    /// settled then, and every listed child has ended.
    ///
    /// A list that is empty (a request scope nobody spawned into) is skipped
    /// without its lock; so is one of a few entries while the scope is only
    /// idle (a request scope whose task has settled: its end, or its drop,
    /// comes next). An ending scope is not swept at all if the caller is
    /// `leaving` — it drops its handle right after — and that handle is the
    /// last: the lists go with the scope then, without their locks. (Another
    /// handle may come from a parent's or a timer's `Weak` meanwhile: the
    /// lists then wait for the scope to go.)
    fn released(&self, released: Released, leaving: bool) {
        let least = match released {
            Released::Held => return,
            Released::Idle => Listed::Many,
            Released::Ended if leaving && Arc::strong_count(&self.inner) == 1 => {
                self.ended(true);
                return;
            }
            Released::Ended => Listed::Few,
        };
        // Without its rest, the scope never listed anything.
        if let Some(rest) = self.inner.made() {
            sweep_listed(&rest.tasks_listed, least, &rest.tasks, |tasks| tasks);
            sweep_listed(&rest.children_listed, least, &rest.state, |state| {
                &mut state.children
            });
        }
        if released == Released::Ended {
            self.ended(false);
        }
    }

    /// The scope has ended: it leaves its parent's tree. `going`: the scope
    /// itself goes right after (its last handle is leaving), and with it
    /// its handle to the parent.
    fn ended(&self, going: bool) {
        if self.inner.activation.load(Ordering::Acquire) == ACTIVE {
            // It stays in the parent's list of children until the next sweep.
            if let Some(parent) = &self.inner.parent {
                parent.released(parent.inner.holds.uncount(), going);
            }
        }
    }

    /// Makes the scope active, if it has a parent: a child scope joins its
    /// parent's tree with its first task or finalizer, or that of a scope
    /// below it — it registers with the parent (so cancellation walks,
    /// snapshots and `live_tasks` reach it) and counts as one task of the
    /// parent's (so the parent's `join` waits for it) until it ends. A
    /// request scope that nobody spawns into never touches its parent.
    /// Returns false if the parent had ended by then.
    ///
    /// The caller must hold the scope (a count or a keeper), so that it cannot
    /// end while it activates. `now`, if the caller has read the clock, is
    /// taken as the time of activation (one clock read for a task and the
    /// scopes it activates; read before activating, so under contention a
    /// scope may record a time a little before the activation that won, which
    /// only shows in snapshot ages).
    pub(crate) fn activate(&self, now: Option<Instant>) -> bool {
        let Some(parent) = &self.inner.parent else {
            return true;
        };
        match self.inner.activation.load(Ordering::Acquire) {
            ACTIVE => return true,
            ORPHANED => return false,
            _ => {}
        }
        // Activations of one scope are serialized by its state lock (taken
        // before the parent's, never the other way round).
        let mut state = self.inner.lock_state();
        match self.inner.activation.load(Ordering::Acquire) {
            ACTIVE => return true,
            ORPHANED => return false,
            _ => {}
        }
        if !parent.inner.holds.try_count() {
            self.inner.activation.store(ORPHANED, Ordering::Release);
            return false;
        }
        let now = now.unwrap_or_else(Instant::now);
        if !parent.activate(Some(now)) {
            parent.uncount();
            self.inner.activation.store(ORPHANED, Ordering::Release);
            return false;
        }
        {
            let parent_rest = parent.inner.rest();
            let mut parent_state = parent_rest.lock_state();
            // Activated first (under this scope's state lock, stored below):
            // `ScopeGuard::unreachable` never sees this `Weak` on an idle scope.
            parent_state.children.push(Arc::downgrade(&self.inner));
            let listed = parent_state.children.listed();
            parent_rest
                .children_listed
                .store(listed as u8, Ordering::Release);
        }
        // Read after registering: a concurrent cancellation of the parent
        // either finds this scope in its walk or is seen here.
        if parent.inner.cancelled.load(Ordering::SeqCst) {
            let _ = self.inner.set_reason(CancelReason::ParentCancelled);
            self.inner.cancelled.store(true, Ordering::SeqCst);
        }
        state.activated = Some(now);
        self.inner.activation.store(ACTIVE, Ordering::Release);
        true
    }

    /// When the scope was created (a root) or activated (a child); `None` for
    /// a child that has never been used.
    pub(crate) fn started(&self) -> Option<Instant> {
        // A scope that has been neither created as a root nor activated has
        // no rest yet.
        let rest = self.inner.made()?;
        rest.created.or_else(|| rest.lock_state().activated)
    }

    /// Whether an ancestor has been cancelled (an inactive scope is not reached
    /// by its ancestors' cancellation walks, so it asks).
    fn ancestor_cancelled(&self) -> bool {
        let mut scope = self.inner.parent.as_ref();
        while let Some(s) = scope {
            if s.inner.cancelled.load(Ordering::SeqCst) {
                return true;
            }
            scope = s.inner.parent.as_ref();
        }
        false
    }

    pub(crate) fn cancelled_flag(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst) || self.ancestor_cancelled()
    }

    /// Arms the deadline timers of this scope and its ancestors that are not
    /// armed yet. Timers are armed lazily — by the first task, waiter or token —
    /// so a scope with a timeout that nobody uses costs no timer task.
    #[inline]
    pub(crate) fn arm_deadlines(&self) {
        // The effective deadline is the earliest on the chain: without one,
        // no scope on it has a timer to arm.
        if self.deadline().is_some() {
            self.arm_chain();
        }
    }

    #[inline(never)]
    fn arm_chain(&self) {
        let mut scope = Some(self);
        while let Some(s) = scope {
            if let Some(deadline) = s.inner.made().and_then(|rest| rest.timer) {
                if s.inner.timer_pending.load(Ordering::Acquire) {
                    s.arm_deadline(deadline);
                }
            }
            scope = s.inner.parent.as_ref();
        }
    }

    fn arm_deadline(&self, deadline: Instant) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to run a timer on (yet): the deadline is still checked
            // by `is_cancelled` and `cancel_reason`, and armed on a later use.
            return;
        };
        if !self.inner.timer_pending.swap(false, Ordering::AcqRel) {
            return;
        }
        // The token first: a scope with a `Weak` handle must read as
        // reachable to `ScopeGuard::unreachable`, which checks the token.
        let token = self.cancellation_token().clone();
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    if let Some(inner) = weak.upgrade() {
                        Scope { inner }.cancel_with(CancelReason::DeadlineExceeded);
                    }
                }
            }
        });
    }

    /// Cancels the scopes on the chain whose unarmed deadline has passed.
    fn check_deadlines(&self) {
        if self.deadline().is_none() {
            return;
        }
        let now = Instant::now();
        let mut expired = None;
        let mut scope = Some(self);
        while let Some(s) = scope {
            if s.inner
                .made()
                .and_then(|rest| rest.timer)
                .is_some_and(|d| d <= now)
            {
                expired = Some(s);
            }
            scope = s.inner.parent.as_ref();
        }
        // The outermost expired scope cancels first, so its children report
        // `ParentCancelled`, as with armed timers.
        if let Some(s) = expired {
            s.cancel_with(CancelReason::DeadlineExceeded);
        }
    }

    /// The scope of the task (or `spawn_blocking` closure, or `#[scoped]`
    /// handler, or request under the tower layer) this code runs in, or `None`
    /// outside any scope — including outside any runtime.
    pub fn current() -> Option<Scope> {
        current::current()
    }

    /// The process-wide root scope, for work spawned outside any scope. It is
    /// never cancelled by the library; the `scope_spawn!` family uses it when
    /// [`Scope::current`] is `None`, so no task is ever untracked.
    pub fn global() -> Scope {
        static GLOBAL: OnceLock<ScopeGuard> = OnceLock::new();
        Scope::clone(GLOBAL.get_or_init(|| Scope::builder().name("global").build()))
    }

    /// The scope's name (`"scope"` unless one was given).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The scope's unique id.
    pub fn id(&self) -> ScopeId {
        self.inner.id
    }

    /// The parent scope, if this is not a root.
    pub fn parent(&self) -> Option<&Scope> {
        self.inner.parent.as_ref()
    }

    /// The scope's policy.
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    /// The effective deadline: the earliest of this scope's and its ancestors'.
    /// Uses tokio's clock, so `tokio::time::pause()` drives it in tests.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.made()?.deadline
    }

    // ----- cancellation -------------------------------------------------------

    /// Cancels the scope and every scope below it, with
    /// [`CancelReason::Requested`]`(None)`. Tasks are stopped at their next
    /// `.await`; guarded tasks go on.
    pub fn cancel(&self) {
        self.cancel_with(CancelReason::Requested(None));
    }

    /// Cancels the scope with a reason. The first reason wins: if the scope is
    /// already cancelled, this does nothing.
    pub fn cancel_with(&self, reason: CancelReason) {
        if self.inner.cancelled.load(Ordering::SeqCst) {
            return;
        }
        if self.ancestor_cancelled() {
            // The first cause came from above; its walk reaches this scope if
            // it is active (an inactive one has nothing to stop).
            let _ = self.inner.set_reason(CancelReason::ParentCancelled);
            return;
        }
        // Whoever records the first reason and then claims the flag walks the
        // tree; an ancestor's walk records `ParentCancelled` and claims the
        // flags on its way down.
        if !self.inner.set_reason(reason) || crate::gate::raise(&self.inner.cancelled) {
            return;
        }
        self.cancel_tree();
    }

    /// Marks this scope and every scope below it cancelled and aborts their
    /// tasks, guarded ones excepted. The whole subtree is marked (reason, then
    /// flag) before any token is cancelled or task aborted, so whoever observes
    /// the cancellation reads the right reason.
    fn cancel_tree(&self) {
        // The common end of a request scope: no task, no active child. (A task
        // admitted from here on reads the flag when it is attached.)
        if self.inner.holds.is_idle() {
            if let Some(token) = self.inner.token() {
                token.cancel();
            }
            return;
        }
        let mut marked = Vec::new();
        let mut stack = vec![self.clone()];
        while let Some(scope) = stack.pop() {
            let children: Vec<_> = scope
                .inner
                .lock_state()
                .children
                .live()
                .filter_map(Weak::upgrade)
                .collect();
            // A child whose flag was already claimed was cancelled first and
            // walks its own subtree.
            stack.extend(
                children
                    .into_iter()
                    .filter(|child| {
                        let _ = child.set_reason(CancelReason::ParentCancelled);
                        !crate::gate::raise(&child.cancelled)
                    })
                    .map(|inner| Scope { inner }),
            );
            marked.push(scope);
        }
        // Pairs with the fence in `cancellation_token`: a token created while
        // the scope is being cancelled is cancelled by one side or the other.
        // (The abort handles need no fence: see `gate`.)
        std::sync::atomic::fence(Ordering::SeqCst);
        for scope in marked {
            if let Some(token) = scope.inner.token() {
                token.cancel();
            }
            scope.abort_tasks(|record| !record.guarded);
        }
    }

    /// Aborts the live tasks that `which` selects, in spawn order: the order
    /// of tokio's own task list and of their allocations, so the aborts work
    /// on warm memory (about a third faster on 100k tasks than in random
    /// order).
    fn abort_tasks(&self, which: impl Fn(&TaskRecord) -> bool) {
        for record in self.inner.lock_tasks().live() {
            if which(record) {
                record.abort();
            }
        }
    }

    /// Aborts every task of this scope and of the scopes below it, guarded ones
    /// included: the end of a shutdown's deadline.
    pub(crate) fn abort_tree(&self) {
        let mut stack = vec![self.clone()];
        while let Some(scope) = stack.pop() {
            let inner = &scope.inner;
            crate::gate::raise(&inner.aborting);
            scope.abort_tasks(|_| true);
            stack.extend(scope.children());
        }
    }

    /// Whether the scope (or one of its ancestors) has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.check_deadlines();
        self.cancelled_flag()
    }

    /// Waits until the scope is cancelled.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe.
    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.arm_deadlines();
        self.cancellation_token().clone().cancelled_owned()
    }

    /// Why the scope was cancelled, or `None` if it has not been.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.check_deadlines();
        if let Some(reason) = self.inner.reason() {
            return Some(reason);
        }
        if self.cancelled_flag() {
            // Cancelled without a reason of its own: by an ancestor.
            self.inner.set_reason(CancelReason::ParentCancelled);
            return self.inner.reason();
        }
        None
    }

    pub(crate) fn cancelled_error(&self) -> crate::TaskError {
        crate::TaskError::Cancelled(
            self.cancel_reason()
                .unwrap_or(CancelReason::ParentCancelled),
        )
    }

    /// A [`CancellationToken`] cancelled with the scope, for libraries that take
    /// one. Cancelling the returned token does **not** cancel the scope (it is a
    /// child token); use [`Scope::cancel`].
    pub fn token(&self) -> CancellationToken {
        self.arm_deadlines();
        self.cancellation_token().child_token()
    }

    /// The scope's own token, created on first use as a child of the parent's.
    fn cancellation_token(&self) -> &CancellationToken {
        let token = self
            .inner
            .rest()
            .token
            .get_or_init(|| match &self.inner.parent {
                Some(parent) => parent.cancellation_token().child_token(),
                None => CancellationToken::new(),
            });
        // Pairs with the fence in `cancel_tree`: a token created while the
        // scope is being cancelled is cancelled by one side or the other.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.cancelled_flag() {
            token.cancel();
        }
        token
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        let mut scope = Some(self);
        while let Some(s) = scope {
            if s.inner
                .made()
                .is_some_and(|rest| rest.shutting_down.load(Ordering::Acquire))
            {
                return true;
            }
            scope = s.inner.parent.as_ref();
        }
        false
    }

    /// Whether the scope has ended: joined, shut down, or its guard dropped and
    /// its last task settled. Spawning into an ended scope yields
    /// [`TaskError::Cancelled`](crate::TaskError::Cancelled) at once.
    pub fn is_ended(&self) -> bool {
        self.inner.holds.is_ended()
    }

    // ----- context ------------------------------------------------------------

    /// Stores a typed value in the scope, replacing any earlier value of the same
    /// type. It is visible through [`Scope::get`] on this scope, in its tasks (via
    /// [`Scope::current`]) and in every scope below it.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        let value: Arc<dyn Any + Send + Sync> = Arc::new(value);
        let mut state = self.inner.lock_state();
        let id = TypeId::of::<T>();
        match state.context.iter_mut().find(|(t, _)| *t == id) {
            Some(slot) => slot.1 = value,
            None => state.context.push((id, value)),
        }
    }

    /// Looks a typed value up in this scope, then in its parent, and so on.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let id = TypeId::of::<T>();
        let mut scope = Some(self);
        while let Some(s) = scope {
            let found = s.inner.made().and_then(|rest| {
                rest.lock_state()
                    .context
                    .iter()
                    .find(|(t, _)| *t == id)
                    .map(|(_, v)| Arc::clone(v))
            });
            if let Some(value) = found {
                return value.downcast::<T>().ok();
            }
            scope = s.inner.parent.as_ref();
        }
        None
    }

    // ----- finalizers ---------------------------------------------------------

    /// Registers async cleanup that runs when the scope ends — by `join`, by
    /// `shutdown`, or because its guard was dropped — after its tasks have
    /// settled. Finalizers run last registered first, exactly once, also when the
    /// scope was cancelled. A panicking finalizer is reported as a failure.
    ///
    /// If the guard is already gone, the finalizer runs in the background once
    /// the scope's tasks have settled; if the scope has already ended, it runs at
    /// once in the background. Without a Tokio runtime to run it on, it is
    /// dropped.
    pub fn defer<F>(&self, finalizer: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Keep the scope from ending while the finalizer is registered.
        let kept = Kept::try_new(self);
        self.inner.deferred.store(true, Ordering::Relaxed);
        // A scope with finalizers is active: its parent's `join` waits for it.
        let active = kept.is_some() && self.activate(None);
        let mut state = self.inner.lock_state();
        if !state.ending {
            state.finalizers.push(Box::pin(finalizer));
            return;
        }
        drop(state);
        let scope = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // The keeper goes with the runner, and is given back when it is
            // dropped, finished or not.
            runtime.spawn(async move {
                let _kept = kept;
                if active {
                    scope.inner.holds.idle().await;
                }
                scope.run_finalizers(vec![Box::pin(finalizer)]).await;
            });
        }
    }

    pub(crate) async fn run_finalizers(&self, finalizers: Vec<Finalizer>) {
        for finalizer in finalizers.into_iter().rev() {
            if let Err(payload) = CatchUnwind::new(finalizer).await {
                self.report_failure(TaskFailure {
                    id: TaskId::next(),
                    name: Some(Cow::Borrowed("finalizer")),
                    kind: FailureKind::Panicked(panic_message(&*payload)),
                });
            }
        }
    }

    /// Takes the finalizers registered so far; `ending`: the guard is gone,
    /// so later ones run in the background (which needs the rest, to record).
    fn take_finalizers(&self, ending: bool) -> Vec<Finalizer> {
        let rest = if ending {
            self.inner.rest()
        } else {
            // A scope without its rest has no finalizer to take.
            let Some(rest) = self.inner.made() else {
                return Vec::new();
            };
            rest
        };
        let mut state = rest.lock_state();
        state.ending |= ending;
        std::mem::take(&mut state.finalizers)
    }

    pub(crate) fn report_failure(&self, failure: TaskFailure) {
        if self.inner.policy == Policy::FailFast {
            self.cancel_with(CancelReason::TaskFailed {
                task: failure.label(),
            });
        }
        self.inner.lock_state().failures.push(failure);
    }

    // ----- introspection ------------------------------------------------------

    /// The live tasks of this scope and of every scope below it (queued tasks
    /// included), so a server root's count says what is running anywhere.
    pub fn live_tasks(&self) -> usize {
        let own = self.inner.live_task_count();
        own + self.children().iter().map(Scope::live_tasks).sum::<usize>()
    }

    pub(crate) fn children(&self) -> Vec<Scope> {
        // A scope with children has its rest: the first made it, to list it.
        let Some(rest) = self.inner.made() else {
            return Vec::new();
        };
        let state = rest.lock_state();
        // In the order they were first used.
        state
            .children
            .live()
            .filter_map(Weak::upgrade)
            .map(|inner| Scope { inner })
            .collect()
    }

    /// Runs `future` with this scope as [`Scope::current`], without spawning it.
    /// Tasks spawned with the `scope_spawn!` family inside it land in this scope.
    #[inline]
    pub fn in_scope<F: Future>(&self, future: F) -> InScope<F> {
        InScope::new(self.clone(), future)
    }

    /// Calls `make` with this scope as [`Scope::current`], then runs the future
    /// it returns in this scope too: for middleware whose inner service does
    /// work both when called and in the future it returns. (The same as
    /// `scope.in_scope(scope.in_scope_sync(make))`, with one clone of the scope
    /// instead of two.)
    ///
    /// # Examples
    ///
    /// ```
    /// use scope_spawn::Scope;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let scope = Scope::new();
    /// let future = scope.in_scope_with(|| {
    ///     let called_in = Scope::current().unwrap().id();
    ///     async move { (called_in, Scope::current().unwrap().id()) }
    /// });
    /// assert_eq!(future.await, (scope.id(), scope.id()));
    /// # }
    /// ```
    #[inline]
    pub fn in_scope_with<F: Future>(&self, make: impl FnOnce() -> F) -> InScope<F> {
        let mut slot = Some(self.clone());
        let entered = current::Entered::new(&mut slot);
        let future = make();
        drop(entered);
        InScope::from_slot(slot, future)
    }

    /// Runs the closure with this scope as [`Scope::current`].
    pub fn in_scope_sync<R>(&self, f: impl FnOnce() -> R) -> R {
        current::enter(&mut Some(self.clone()), f)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("live_tasks", &self.inner.live_task_count())
            .field("cancel_reason", &self.inner.reason())
            .field("cancelled", &self.inner.cancelled.load(Ordering::Relaxed))
            .finish()
    }
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Scope {}

/// Owns a scope's lifetime: dropping it cancels the scope with
/// [`CancelReason::Dropped`], [`end_with`](ScopeGuard::end_with) with another
/// reason; [`join`](ScopeGuard::join) and [`shutdown`](ScopeGuard::shutdown)
/// end it in an orderly way.
///
/// `ScopeGuard` derefs to [`Scope`], so every `Scope` method works on it. It is
/// not `Clone`: `guard.clone()` yields a `Scope` handle through the deref, which
/// never cancels anything. This follows tokio-util's `CancellationToken` /
/// `DropGuard` split.
///
/// # Examples
///
/// ```
/// use scope_spawn::{CancelReason, Scope, TaskError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let guard = Scope::new();
/// let task = guard.spawn(std::future::pending::<()>());
/// drop(guard);
/// assert_eq!(task.await, Err(TaskError::Cancelled(CancelReason::Dropped)));
/// # }
/// ```
#[must_use = "dropping the guard cancels the scope at once"]
pub struct ScopeGuard {
    /// `None` only while the guard lends its handle to the thread-local of the
    /// current scope (see [`ScopeGuard::enter`]), which borrows the guard
    /// mutably: nobody can look at it then.
    scope: Option<Scope>,
    /// Whether this guard still keeps the scope (see [`Holds`]).
    kept: bool,
}

impl Deref for ScopeGuard {
    type Target = Scope;

    fn deref(&self) -> &Scope {
        self.scope()
    }
}

impl fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Some(scope) => f.debug_tuple("ScopeGuard").field(scope).finish(),
            None => f.write_str("ScopeGuard(<entered>)"),
        }
    }
}

/// What a scope's tasks did, returned by [`ScopeGuard::join`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The failures of the scope's own tasks (and of its finalizers), in the
    /// order they happened. Under [`Policy::Supervise`] `join` returns them here;
    /// the other policies turn them into a [`ScopeError`].
    pub failures: Vec<TaskFailure>,
    /// Why the scope was cancelled before it was joined, if it was.
    pub cancel_reason: Option<CancelReason>,
}

impl ScopeGuard {
    /// Waits until every task and child scope has settled (tasks spawned while
    /// it waits included), runs the finalizers, ends the scope (reason
    /// [`CancelReason::Completed`] unless it was cancelled before) and returns
    /// the outcome under the scope's [`Policy`].
    ///
    /// An active child scope (one that has had a task or a finalizer, or has
    /// a scope below it that had one) whose guard is still held elsewhere
    /// keeps `join` waiting until that guard is dropped or joined; an idle
    /// one does not.
    ///
    /// # Cancel safety
    ///
    /// Dropping the `join` future drops the guard: the scope is cancelled with
    /// [`CancelReason::Dropped`] and its finalizers run in the background.
    pub async fn join(self) -> Result<Outcome, ScopeError> {
        let inner = Arc::clone(&self.scope().inner);
        self.scope().inner.holds.idle().await;
        let finalizers = self.scope().take_finalizers(false);
        self.scope().run_finalizers(finalizers).await;
        let cancel_reason = self.scope().cancel_reason();
        let failures = inner
            .made()
            .map(|rest| std::mem::take(&mut rest.lock_state().failures))
            .unwrap_or_default();
        self.end_with(CancelReason::Completed);
        match self_policy_result(inner.policy, failures) {
            Ok(failures) => Ok(Outcome {
                failures,
                cancel_reason,
            }),
            Err(err) => Err(err),
        }
    }

    /// Cancels the scope with [`CancelReason::Shutdown`], waits up to `deadline`
    /// for every task of the subtree to settle (guarded tasks keep running until
    /// then), then aborts whatever is left — stragglers really stop; they are not
    /// merely detached — runs the finalizers and reports exact counts of the
    /// tasks that were live in the subtree when shutdown began.
    ///
    /// Blocking closures cannot be interrupted; any still running when the
    /// report is made are counted in [`ShutdownReport::still_running`](crate::ShutdownReport::still_running).
    ///
    /// # Cancel safety
    ///
    /// Dropping the `shutdown` future drops the guard (see [`ScopeGuard::join`]);
    /// the scope is already cancelled by then.
    pub async fn shutdown(self, deadline: Duration) -> crate::ShutdownReport {
        let started = Instant::now();
        self.scope()
            .inner
            .rest()
            .shutting_down
            .store(true, Ordering::Release);
        let records = crate::shutdown::live_records(self.scope());
        self.scope().cancel_with(CancelReason::Shutdown);
        // Wait for the tasks, not for the guards of child scopes: a guard held
        // elsewhere must not hold up a shutdown.
        let stop_at = started.checked_add(deadline);
        let settled = crate::shutdown::wait_settled(&records, |_| true, stop_at).await;
        if !settled {
            self.scope().abort_tree();
            // Aborted tasks stop at their next poll; blocking closures cannot.
            let grace = Instant::now().checked_add(ABORT_GRACE);
            crate::shutdown::wait_settled(&records, |r| !r.blocking, grace).await;
        }
        let finalizers = self.scope().take_finalizers(false);
        self.scope().run_finalizers(finalizers).await;
        let report = crate::shutdown::count(&records, !settled, started.elapsed());
        self.end_with(CancelReason::Shutdown);
        report
    }

    /// Ends the scope now, without waiting: cancels it with `reason` (unless
    /// it was cancelled before), which stops its tasks (guarded ones go on),
    /// and lets go of the guard; finalizers run once the tasks have settled.
    /// Dropping the guard does the same with [`CancelReason::Dropped`];
    /// [`join`](ScopeGuard::join) waits for the tasks first.
    ///
    /// A child scope that nobody else can reach any more — no other handle,
    /// never used (no task, child or finalizer), and no
    /// [`token`](Scope::token) or [`cancelled`](Scope::cancelled) future ever
    /// made — ends without recording anything, since nobody could read its
    /// reason: the common end of a request scope. A root always records it.
    ///
    /// # Examples
    ///
    /// ```
    /// use scope_spawn::{CancelReason, Scope, TaskError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let guard = Scope::new();
    /// let scope = guard.clone();
    /// let task = guard.spawn(std::future::pending::<()>());
    /// guard.end_with(CancelReason::Completed);
    /// assert_eq!(task.await, Err(TaskError::Cancelled(CancelReason::Completed)));
    /// assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    /// # }
    /// ```
    pub fn end_with(mut self, reason: CancelReason) {
        self.let_go(reason);
    }

    /// Cancels the scope with `reason` (unless it was cancelled before) and
    /// gives up the guard's keeper — to a runner of the finalizers registered
    /// and not run yet, if there are any (one may come in while `join` runs
    /// the others), which runs them once the scope's tasks have settled.
    ///
    /// A guard that nobody else can reach lets go without any of that (see
    /// [`ScopeGuard::unreachable`]); one whose scope only its parent's list
    /// can still reach just ends it (see [`ScopeGuard::quiescent`]).
    fn let_go(&mut self, reason: CancelReason) {
        if !std::mem::take(&mut self.kept) || self.scope.is_none() || self.unreachable() {
            // (No scope: only if it was lost while lent out, which the
            // thread-local never does while the thread runs.)
            return;
        }
        if self.quiescent() {
            self.scope().unkeep_leaving();
            return;
        }
        self.scope().cancel_with(reason);
        let finalizers = self.scope().take_finalizers(true);
        if finalizers.is_empty() {
            self.scope().unkeep_leaving();
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                scope = %self.scope().inner.name,
                "scope-spawn: a scope guard was dropped outside a Tokio runtime; \
                 its finalizers cannot run and are dropped"
            );
            self.scope().unkeep_leaving();
            return;
        };
        // The guard's keeper passes to the finalizers' runner, which gives it
        // back when it is dropped, finished or not (say, its runtime shut down
        // first): the scope still ends and leaves its parent.
        let kept = Kept(self.scope().clone());
        runtime.spawn(async move {
            kept.0.inner.holds.idle().await;
            kept.0.run_finalizers(finalizers).await;
        });
    }
}

impl ScopeGuard {
    fn scope(&self) -> &Scope {
        self.scope
            .as_ref()
            .expect("scope-spawn: a scope guard is only empty while it is entered")
    }

    /// Runs `f` with the scope as [`Scope::current`], lending the guard's own
    /// handle to the thread-local: no second handle to make and drop, as
    /// [`Scope::in_scope_sync`] needs.
    pub(crate) fn enter<R>(&mut self, f: impl FnOnce() -> R) -> R {
        current::enter(&mut self.scope, f)
    }

    /// Makes the scope current, lending the guard's own handle, until the
    /// returned value is dropped (see [`current::Entered`]).
    #[inline]
    pub(crate) fn entered(&mut self) -> current::Entered<'_> {
        current::Entered::new(&mut self.scope)
    }

    /// Whether nobody but this guard can reach the scope: then letting go of
    /// it needs no reason, flag, finalizer lock or keeper to be recorded —
    /// nobody could read them — and the scope simply goes with the guard: the
    /// common end of a request scope that nobody spawned into.
    ///
    /// That is a child scope that has no other handle (nor a `Weak` one: a
    /// parent's list, a timer), never joined its parent's tree — so it has had
    /// no task, active child or finalizer (each activates it first) — and gave
    /// out no token. A root scope always takes the full path.
    fn unreachable(&self) -> bool {
        self.reached_only_by_guard(0, IDLE)
    }

    /// Whether the scope was used — it joined its parent's tree — but is
    /// idle now, and nobody but this guard holds a handle to it: only its
    /// parent's list of children still reaches it, through a `Weak`. It gave
    /// out no token and never had a finalizer. Then nobody could read a
    /// reason, a flag or a finalizer list, and letting go of the guard is
    /// ending the scope (the guard's keeper) and leaving the parent: the
    /// common end of a request scope whose tasks have finished.
    ///
    /// A walk of the parent's (a cancellation, a shutdown's deadline, a
    /// snapshot) may upgrade that `Weak` meanwhile: it finds an idle scope,
    /// with no task to stop, which it may still mark cancelled.
    fn quiescent(&self) -> bool {
        // Active, the one `Weak` is the parent's list's: a timer's comes with
        // a token.
        self.reached_only_by_guard(1, ACTIVE)
            && !self.scope().inner.deferred.load(Ordering::Relaxed)
    }

    /// Whether the scope is a child in `activation`, idle, that gave out no
    /// token, and that no handle but the guard's and `weak` `Weak`s reach.
    fn reached_only_by_guard(&self, weak: usize, activation: u8) -> bool {
        let inner = &self.scope().inner;
        if inner.parent.is_none() || Arc::strong_count(inner) != 1 || Arc::weak_count(inner) != weak
        {
            return false;
        }
        // No other handle is left, and none can be made but from those
        // `Weak`s: order what is read below after everything the dropped
        // handles did (their drops release, as in `Arc`'s own drop).
        std::sync::atomic::fence(Ordering::Acquire);
        inner.activation.load(Ordering::Relaxed) == activation
            && inner.holds.is_kept_only()
            && inner.token().is_none()
    }
}

/// A keeper of a scope (see [`Holds`]), given back when dropped.
struct Kept(Scope);

impl Kept {
    /// Keeps `scope`, unless it has ended.
    fn try_new(scope: &Scope) -> Option<Kept> {
        scope.inner.holds.try_keep().then(|| Kept(scope.clone()))
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.0.unkeep_leaving();
    }
}

fn self_policy_result(
    policy: Policy,
    failures: Vec<TaskFailure>,
) -> Result<Vec<TaskFailure>, ScopeError> {
    match policy {
        Policy::Supervise => Ok(failures),
        _ if failures.is_empty() => Ok(failures),
        Policy::FailFast => Err(ScopeError::TaskFailed(
            failures.into_iter().next().expect("not empty"),
        )),
        Policy::CollectAll => Err(ScopeError::Failures(failures)),
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        self.let_go(CancelReason::Dropped);
    }
}

#[cfg(all(test, not(scope_spawn_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_flags_a_spawn_reads_are_a_cache_line_away_from_the_words_every_task_writes() {
        use std::mem::{offset_of, size_of};
        // In the `Arc`'s allocation the fields come after its two counts;
        // the strong count (first) and `holds`' word (first in `Holds`) are
        // what a spawn and a settling task both write.
        let counts = 2 * size_of::<usize>();
        assert_eq!(offset_of!(ScopeInner, holds), 0);
        assert_eq!(crate::books::Holds::WORD_OFFSET, 0);
        let last_written_byte = counts + size_of::<u64>() - 1;
        let flags = [
            offset_of!(ScopeInner, cancelled),
            offset_of!(ScopeInner, aborting),
            offset_of!(ScopeInner, timer_pending),
            offset_of!(ScopeInner, deferred),
            offset_of!(ScopeInner, activation),
            offset_of!(ScopeInner, policy),
            offset_of!(ScopeInner, reason),
        ];
        let first_flag = counts + flags.into_iter().min().unwrap();
        // Two bytes 64 apart are on different 64-byte lines wherever the
        // allocation starts.
        assert!(
            first_flag - last_written_byte >= 64,
            "flags from byte {first_flag}, written words up to byte {last_written_byte}"
        );
        // And the small part stays one 128-byte allocation with the counts.
        assert!(counts + size_of::<ScopeInner>() <= 128);
    }

    /// The lengths of a scope's lists, checked against their flags (each
    /// flag says how much its list holds).
    fn listed(scope: &Scope) -> (usize, usize) {
        let tasks = scope.inner.lock_tasks();
        let state = scope.inner.lock_state();
        assert_eq!(
            flags(scope),
            (tasks.listed(), state.children.listed()),
            "the flags say what the lists hold"
        );
        (tasks.len(), state.children.len())
    }

    fn flags(scope: &Scope) -> (Listed, Listed) {
        let flag = |listed: &AtomicU8| match listed.load(Ordering::Acquire) {
            0 => Listed::Nothing,
            1 => Listed::Few,
            _ => Listed::Many,
        };
        let rest = scope.inner.rest();
        (flag(&rest.tasks_listed), flag(&rest.children_listed))
    }

    #[tokio::test]
    async fn a_scope_unlists_settled_tasks_and_ended_children_when_it_becomes_idle() {
        let root = Scope::new();
        for round in 0..3 {
            let handles: Vec<_> = (0..100).map(|i| root.spawn(async move { i })).collect();
            assert_eq!(listed(&root), (100, 0), "round {round}: listed");
            for handle in handles {
                handle.await.unwrap();
            }
            assert_eq!(
                listed(&root),
                (0, 0),
                "round {round}: the last task swept them"
            );

            let children: Vec<_> = (0..3).map(|_| root.child()).collect();
            for child in &children {
                child.spawn(async {}).await.unwrap();
            }
            assert_eq!(
                listed(&root),
                (0, 3),
                "round {round}: the used children are listed"
            );
            drop(children);
            assert_eq!(
                listed(&root),
                (0, 0),
                "round {round}: the last child to end swept them out"
            );
        }
    }

    #[tokio::test]
    async fn a_few_entries_wait_for_the_end_or_the_next_sweep_while_the_scope_is_idle() {
        let root = Scope::new();
        let child = root.child();
        child.spawn(async {}).await.unwrap();
        assert_eq!(listed(&child), (1, 0), "the settled task waits");
        assert_eq!(child.live_tasks(), 0, "but is not live");
        assert_eq!(listed(&root), (0, 1), "the used child is listed");

        let handle = child.clone();
        drop(child);
        assert!(handle.is_ended());
        assert_eq!(
            listed(&handle),
            (0, 0),
            "an ending scope that others still hold sweeps its few entries"
        );
        drop(handle);
        assert_eq!(listed(&root), (0, 1), "the ended child waits");
        assert!(root.children().is_empty(), "but is not live");

        // A third entry makes the list worth sweeping once the scope is idle.
        let children: Vec<_> = (0..2).map(|_| root.child()).collect();
        for child in &children {
            child.spawn(async {}).await.unwrap();
        }
        drop(children);
        assert_eq!(listed(&root), (0, 0));
    }

    #[tokio::test]
    async fn an_ended_scope_that_only_a_child_still_holds_sweeps_its_lists() {
        // The root's last handle is its child's: the root's end, brought
        // about by the child's, must not leave its lists to that handle.
        let root = Scope::new();
        root.spawn(async {}).await.unwrap();
        let child = root.child();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let task = child.spawn_guarded(async move {
            let _ = finished.await;
        });
        let held = Scope::clone(&child);
        drop(child);
        drop(root);
        let root = held.parent().expect("a child has its parent");
        assert_eq!(listed(root), (1, 1), "the root waits for its child");
        finish.send(()).unwrap();
        task.await.unwrap();
        assert!(root.is_ended());
        assert_eq!(listed(root), (0, 0), "the root swept its lists as it ended");
        assert_eq!(listed(&held), (0, 0), "so did the child");
    }

    #[tokio::test]
    async fn a_child_makes_the_rest_of_itself_only_when_it_needs_it() {
        let root = Scope::new();
        assert!(root.inner.made().is_some(), "a root makes it at once");

        let child = root.child();
        let held = Scope::clone(&child);
        let _ = (held.get::<u8>(), held.live_tasks(), held.snapshot());
        let _ = (held.deadline(), held.cancel_reason(), format!("{held:?}"));
        assert!(held.inner.made().is_none(), "reading does not make it");
        child.join().await.unwrap();
        assert!(
            held.inner.made().is_some(),
            "ending it while others hold it records there that it ended"
        );

        let child = root.child();
        child.spawn(async {}).await.unwrap();
        assert!(child.inner.made().is_some(), "a task makes it");

        let child = root.child();
        child.insert(1_u8);
        assert_eq!(child.get::<u8>().as_deref(), Some(&1));

        let timed = Scope::builder()
            .parent(&root)
            .timeout(Duration::from_secs(60))
            .build();
        assert!(timed.inner.made().is_some(), "a deadline makes it at once");
        let grandchild = timed.child();
        assert!(grandchild.deadline().is_some(), "and children inherit it");
        assert!(grandchild.inner.made().is_some());

        let child = root.child();
        child.cancel_with(CancelReason::requested("why"));
        assert_eq!(
            child.cancel_reason(),
            Some(CancelReason::requested("why")),
            "a reason with data is kept in it"
        );
    }

    #[tokio::test]
    async fn only_a_used_idle_child_that_only_its_parent_reaches_just_ends() {
        let root = Scope::new();
        assert!(!root.quiescent(), "a root takes the full path");
        assert!(!root.child().quiescent(), "an unused child is unreachable");
        let used = || async {
            let child = root.child();
            child.spawn(async {}).await.unwrap();
            child
        };

        let child = used().await;
        assert!(child.quiescent(), "used, idle, its guard the only handle");
        drop(child);

        let child = used().await;
        let handle = child.clone();
        assert!(!child.quiescent(), "another handle");
        drop(handle);
        assert!(child.quiescent());
        drop(child);

        let child = root.child();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let task = child.spawn(async move {
            let _ = released.await;
        });
        assert!(!child.quiescent(), "a live task");
        release.send(()).unwrap();
        task.await.unwrap();
        assert!(child.quiescent());
        drop(child);

        let child = used().await;
        let token = child.token();
        assert!(!child.quiescent(), "a token was given out");
        drop(child);
        assert!(token.is_cancelled(), "the full path cancelled it");

        let child = root.child();
        let (ran, ran_rx) = tokio::sync::oneshot::channel();
        child.defer(async move {
            let _ = ran.send(());
        });
        assert!(!child.quiescent(), "a finalizer");
        drop(child);
        ran_rx.await.expect("the full path ran it");

        let child = used().await;
        let grandchild = child.child();
        grandchild.spawn(async {}).await.unwrap();
        assert!(!child.quiescent(), "a child holds it");
        drop(grandchild);
        assert!(child.quiescent());
        drop(child);

        assert_eq!(root.live_tasks(), 0);
        assert!(root.children().is_empty(), "every child left the root");
        root.join().await.expect("nothing holds the root up");
    }

    #[tokio::test]
    async fn only_a_child_that_nobody_else_can_reach_ends_without_recording_anything() {
        let root = Scope::new();
        assert!(!root.unreachable(), "a root takes the full path");
        assert!(
            root.child().unreachable(),
            "a fresh child, its guard the only handle"
        );

        let child = root.child();
        let handle = child.clone();
        assert!(!child.unreachable(), "another handle");
        drop(handle);
        assert!(child.unreachable(), "the handle is gone");

        let child = root.child();
        let _token = child.token();
        assert!(!child.unreachable(), "a token was given out");

        let child = root.child();
        child.defer(async {});
        assert!(!child.unreachable(), "a finalizer (it activated the child)");

        let child = root.child();
        child.spawn(async {}).await.unwrap();
        assert!(!child.unreachable(), "it had a task (it joined the tree)");

        let child = root.child();
        let grandchild = child.child();
        assert!(!child.unreachable(), "an idle child holds it");
        drop(grandchild);
        assert!(child.unreachable());

        let child = root.child();
        let weak = Arc::downgrade(&child.inner);
        assert!(
            !child.unreachable(),
            "a weak handle (a parent's list, a timer)"
        );
        drop(weak);
        assert!(child.unreachable());
    }

    #[tokio::test]
    async fn an_in_scope_future_lets_go_of_its_scope_when_it_completes() {
        let guard = Scope::new();
        let mut future = std::pin::pin!(guard.in_scope(async { Scope::current().is_some() }));
        assert_eq!(Arc::strong_count(&guard.inner), 2);
        assert!(future.as_mut().await);
        assert_eq!(
            Arc::strong_count(&guard.inner),
            1,
            "the completed future no longer holds the scope"
        );
    }

    #[tokio::test]
    async fn a_scope_made_idle_by_its_last_task_also_unlists_children_that_ended_before() {
        let root = Scope::new();
        let (release, released) = tokio::sync::watch::channel(false);
        let busy: Vec<_> = (0..3)
            .map(|_| {
                let mut released = released.clone();
                root.spawn(async move {
                    let _ = released.wait_for(|go| *go).await;
                })
            })
            .collect();
        let children: Vec<_> = (0..3).map(|_| root.child()).collect();
        for child in &children {
            child.spawn(async {}).await.unwrap();
        }
        drop(children);
        assert_eq!(listed(&root), (3, 3), "the tasks keep the root busy");
        release.send(true).unwrap();
        for task in busy {
            task.await.unwrap();
        }
        assert_eq!(listed(&root), (0, 0), "the last task swept both lists");
    }
}
