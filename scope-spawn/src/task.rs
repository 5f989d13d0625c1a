//! Spawning: task options, the per-task bookkeeping, the wrapper every task runs
//! in, and [`TaskHandle`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use once_cell::race::OnceBox;
use pin_project_lite::pin_project;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

use crate::current;
use crate::gate::AbortSlot;
use crate::limit::Permit;
use crate::reason::{ReasonCell, ReasonData};
use crate::scope::Name;
use crate::{CancelReason, FailureKind, Scope, TaskError, TaskFailure};

/// A unique, process-wide identifier of a task spawned through a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TaskId(u64);

impl TaskId {
    pub(crate) fn next() -> Self {
        TaskId(crate::id::next_task_id())
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a task is spawned. Built by [`Scope::task`] (and by the macros).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct TaskOptions {
    pub(crate) name: Option<Name>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) guarded: bool,
    pub(crate) context: bool,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskOptions {
    /// Default options: unnamed, no timeout, not guarded, with context.
    pub fn new() -> Self {
        TaskOptions {
            name: None,
            timeout: None,
            guarded: false,
            context: true,
        }
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Bounds the task's run time.
    #[track_caller]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "scope-spawn: a task timeout must be greater than zero"
        );
        self.timeout = Some(timeout);
        self
    }

    /// Makes the task guarded: not cancelled with its scope.
    pub fn guarded(mut self) -> Self {
        self.guarded = true;
        self
    }

    /// For blocking closures: do not enter the scope's context.
    pub fn no_context(mut self) -> Self {
        self.context = false;
        self
    }
}

// Task states, kept in `TaskRecord::state`.
pub(crate) const QUEUED: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const COMPLETED: u8 = 2;
pub(crate) const CANCELLED: u8 = 3;
pub(crate) const PANICKED: u8 = 4;
pub(crate) const ABORTED: u8 = 5;
pub(crate) const TIMED_OUT: u8 = 6;
pub(crate) const FAILED: u8 = 7;
/// Not ended yet (a record's `outcome` before its task ends itself).
const UNSETTLED: u8 = u8::MAX;

/// What a scope knows of one of its tasks, and all that the task carries of
/// its scope: a spawned task is its own future and one pointer, to this
/// record (see [`TaskFuture`]).
pub(crate) struct TaskRecord {
    pub(crate) id: TaskId,
    pub(crate) name: Option<Name>,
    pub(crate) started: Instant,
    pub(crate) guarded: bool,
    pub(crate) blocking: bool,
    pub(crate) state: AtomicU8,
    /// How the task ended itself, once it has: written when its future
    /// returns, published to `state` when the future has been dropped and
    /// the task settles (`UNSETTLED` until then, and for a task stopped from
    /// outside).
    outcome: AtomicU8,
    /// Why the task's scope stopped it, for its handle: the reason's code
    /// (its data, if it has some, is in `details`; see [`ReasonCell`]).
    cancelled: ReasonCell,
    /// How cancellation stops the task — set right after it is spawned, taken
    /// by whoever stops it first (see `gate`) — and, under the same lock, the
    /// task's scope, from its admission until it settles: what
    /// [`Scope::current`] clones while the task runs. It is taken when the
    /// task settles, so that a record kept by a handle or by the scope's list
    /// does not keep the scope.
    slot: AbortSlot<AbortHandle, Option<Scope>>,
    /// A cancel reason with data, or the message of the task's panic: boxed,
    /// as only those need it.
    details: OnceBox<Details>,
}

/// What a task's record keeps of a rare outcome (see [`TaskRecord::details`]).
enum Details {
    Reason(CancelReason),
    Panic(String),
}

/// Where a task's [`ReasonCell`] keeps a reason with data.
impl ReasonData for OnceBox<Details> {
    fn store(&self, reason: CancelReason) {
        let _ = self.set(Box::new(Details::Reason(reason)));
    }

    fn load(&self) -> Option<&CancelReason> {
        match self.get()? {
            Details::Reason(reason) => Some(reason),
            Details::Panic(_) => None,
        }
    }
}

impl TaskRecord {
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub(crate) fn is_settled(&self) -> bool {
        self.state() > RUNNING
    }

    /// Stops the task, unless it has been stopped through its record before
    /// (or its handle is not published yet: see `gate`).
    pub(crate) fn abort(&self) {
        if let Some(handle) = self.slot.take() {
            handle.abort();
        }
    }

    /// The task's scope, until the task settles.
    pub(crate) fn scope(&self) -> Option<Scope> {
        self.slot.with_kept(|scope| scope.clone())
    }

    /// The error a task's [`Stop`] stands for.
    pub(crate) fn error(&self, stop: Stop) -> TaskError {
        match stop {
            Stop::TimedOut => TaskError::TimedOut,
            Stop::Aborted => TaskError::Aborted,
            Stop::Panicked => TaskError::Panicked(match self.details.get() {
                Some(Details::Panic(message)) => message.clone(),
                _ => "Box<dyn Any>".to_owned(),
            }),
        }
    }

    /// Why the task's scope stopped it (if it did: the state is `CANCELLED`).
    fn cancel_reason(&self) -> Option<CancelReason> {
        self.cancelled.get(|| Some(&self.details))
    }
}

/// How a task that did not run to completion ended, when it ended itself:
/// what its future outputs instead of a [`TaskError`], whose details (a
/// panic's message) are in the record. One byte, so that the output a
/// runtime's task cell keeps is no larger than the task's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Panicked,
    TimedOut,
    /// A blocking closure that the runtime dropped without running it.
    Aborted,
}

/// What a task's future outputs.
pub(crate) type TaskOutput<T> = Result<T, Stop>;

type Hooks = Box<dyn FnOnce(bool) + Send + 'static>;

/// A task's membership of its scope from its admission: its record, which
/// holds one count of the scope's [`Holds`](crate::books::Holds) and the
/// scope itself. An async task's passes to its [`Task`] when its future is
/// built; a blocking closure keeps it until it settles. Dropping a member
/// that has not settled (the closure was dropped without running, or the
/// task was never spawned) settles it.
pub(crate) struct Member {
    /// `None` once settled or passed on, and while lent to the thread-local
    /// (see [`current::enter`]).
    record: Option<Arc<TaskRecord>>,
}

impl Member {
    /// The record, for an async task's [`Task`].
    fn into_record(mut self) -> Arc<TaskRecord> {
        self.record
            .take()
            .expect("scope-spawn: a task's record is only lent out while it is polled")
    }

    fn record(&self) -> &Arc<TaskRecord> {
        self.record
            .as_ref()
            .expect("scope-spawn: a task's record is only lent out while it is polled")
    }

    /// Settles the task (see [`TaskRecord::settle`]), if it has not.
    fn settle(&mut self, hooks: Option<Hooks>) {
        if let Some(record) = self.record.take() {
            record.settle(hooks);
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.settle(None);
    }
}

impl TaskRecord {
    /// Records that the task's future returned `out`, and reports it if it
    /// is a failure; it settles with this outcome (see
    /// [`settle`](TaskRecord::settle)). The output stays where it is: handed
    /// through here and back, it would be copied twice more, and read back
    /// right after it was written (a failed store-to-load forward).
    #[inline]
    fn returned<T, C: Classify<T>>(&self, out: &T) {
        match C::failure(out) {
            None => self.outcome.store(COMPLETED, Ordering::Relaxed),
            Some(message) => self.failed(FAILED, FailureKind::Error(message)),
        }
    }

    /// Records that the task's future panicked with `message`, and reports
    /// it; the task's output is then `Err(Stop::Panicked)`.
    #[cold]
    fn panicked(&self, message: String) {
        let _ = self.details.set(Box::new(Details::Panic(message.clone())));
        self.failed(PANICKED, FailureKind::Panicked(message));
    }

    /// Records that the task's timeout stopped it; its output is then
    /// `Err(Stop::TimedOut)`.
    #[cold]
    fn timed_out(&self) {
        self.outcome.store(TIMED_OUT, Ordering::Relaxed);
    }

    /// Records a failure as the task's outcome, and reports it to its scope.
    #[cold]
    fn failed(&self, state: u8, kind: FailureKind) {
        self.outcome.store(state, Ordering::Relaxed);
        if let Some(scope) = self.scope() {
            scope.report_failure(TaskFailure {
                id: self.id,
                name: self.name.clone(),
                kind,
            });
        }
    }

    /// Settles the task, once: with the outcome it ended itself with, or, if
    /// it did not, as cancelled or aborted as its scope says; runs its hooks
    /// in its scope, and takes it off the books.
    fn settle(&self, hooks: Option<Hooks>) {
        let Some(scope) = self.slot.with_kept(Option::take) else {
            // Settled before.
            return;
        };
        let mut state = self.outcome.load(Ordering::Relaxed);
        if state == UNSETTLED {
            let cancelled = !self.guarded
                && !scope.inner.aborting.load(Ordering::SeqCst)
                && scope.inner.cancelled.load(Ordering::SeqCst);
            state = if cancelled { CANCELLED } else { ABORTED };
            if cancelled {
                if let TaskError::Cancelled(reason) = scope.cancelled_error() {
                    self.cancelled.set(reason, || &self.details);
                }
            }
        }
        let mut leaving = Leaving {
            record: self,
            state,
            scope: Some(scope),
        };
        if let Some(hooks) = hooks {
            let completed = matches!(state, COMPLETED | FAILED);
            current::enter(&mut leaving.scope, || hooks(completed));
        }
    }
}

/// A settling task leaving the books, as it is dropped: after its hooks
/// have run — or panicked (the runtime reports that panic on the task's
/// handle), which must not keep the task on the books for ever.
struct Leaving<'a> {
    record: &'a TaskRecord,
    state: u8,
    /// The task's scope, lent to the hooks while they run.
    scope: Option<Scope>,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        // Once a record reads as settled, the task's hooks have run and it is
        // off the books (`live_tasks`, snapshots), which is what `shutdown`
        // waits for; then it stops holding the scope, which `join` waits for.
        self.record.state.store(self.state, Ordering::Release);
        if let Some(scope) = self.scope.take() {
            scope.uncount_leaving();
        }
        crate::shutdown::task_settled();
    }
}

/// Whether a task's output counts as a failure (see [`Scope::try_spawn`]): a
/// type rather than a function pointer, so that a task does not carry it.
pub(crate) trait Classify<T>: 'static {
    fn failure(out: &T) -> Option<String>;
}

/// Nothing a task outputs is a failure.
pub(crate) enum NoFailure {}

impl<T> Classify<T> for NoFailure {
    #[inline]
    fn failure(_: &T) -> Option<String> {
        None
    }
}

/// A task's `Err` is a failure.
pub(crate) enum ErrFailure {}

impl<T, E: fmt::Display> Classify<Result<T, E>> for ErrFailure {
    fn failure(out: &Result<T, E>) -> Option<String> {
        out.as_ref().err().map(ToString::to_string)
    }
}

/// A task admitted to its scope: its membership, and its slot of the
/// scope's limit.
pub(crate) struct Admitted {
    member: Member,
    permit: Permit,
}

impl Scope {
    /// Admits a task, or says why it cannot run.
    pub(crate) fn admit(&self, opts: &TaskOptions, blocking: bool) -> Result<Admitted, TaskError> {
        if !self.inner.holds.try_count() {
            return Err(self.cancelled_error());
        }
        // The task's start, and the activation time of the scopes it
        // activates: one clock read.
        let now = Instant::now();
        let refused = !self.activate(Some(now))
            || if opts.guarded {
                self.is_shutting_down()
            } else {
                self.cancelled_flag()
            };
        if refused {
            self.uncount();
            return Err(self.cancelled_error());
        }
        self.arm_deadlines();
        // A task's scope has its rest: its list, and its limit if it has one.
        let rest = self.inner.rest();
        let permit = match &rest.limiter {
            Some(limiter) => match limiter.admit() {
                Some(permit) => permit,
                None => {
                    self.uncount();
                    return Err(TaskError::QueueFull);
                }
            },
            None => Permit::default(),
        };
        let record = Arc::new(TaskRecord {
            id: TaskId::next(),
            name: opts.name.clone(),
            started: now,
            guarded: opts.guarded,
            blocking,
            state: AtomicU8::new(if permit.is_queued() { QUEUED } else { RUNNING }),
            outcome: AtomicU8::new(UNSETTLED),
            cancelled: ReasonCell::default(),
            slot: AbortSlot::new(Some(self.clone())),
            details: OnceBox::new(),
        });
        {
            let mut tasks = rest.lock_tasks();
            // Checked under the list's lock, which `shutdown` takes to collect
            // the tasks it reports on after raising its flag: a task is either
            // collected or refused here, never admitted unseen.
            if self.is_shutting_down() {
                drop(tasks);
                self.uncount();
                return Err(TaskError::Cancelled(CancelReason::Shutdown));
            }
            rest.list_task(&mut tasks, Arc::clone(&record));
        }
        Ok(Admitted {
            member: Member {
                record: Some(record),
            },
            permit,
        })
    }

    /// Gives a spawned task's abort handle to its record, so that cancellation
    /// (or a shutdown deadline) can stop it; stops it at once if that already
    /// happened.
    pub(crate) fn attach(&self, record: &TaskRecord, handle: AbortHandle) {
        // See `gate`: publish, then read the flags.
        record.slot.publish(handle);
        let inner = &self.inner;
        if inner.aborting.load(Ordering::SeqCst)
            || (!record.guarded && inner.cancelled.load(Ordering::SeqCst))
        {
            record.abort();
        }
    }

    /// A task's span: `scope_task` when it is enabled, else the caller's
    /// span, or `None` when neither is (no subscriber), which spares the task
    /// the span and its enter and exit on every poll.
    fn task_span(&self, record: &TaskRecord) -> Option<tracing::Span> {
        if tracing::level_filters::LevelFilter::current()
            == tracing::level_filters::LevelFilter::OFF
        {
            // No subscriber enables anything: there is no span to make or carry.
            return None;
        }
        let scope = &self.inner;
        let span = tracing::debug_span!(
            "scope_task",
            task.name = record.name.as_deref().unwrap_or(""),
            task.id = record.id.0,
            scope.name = &*scope.name,
            scope.id = scope.id.as_u64(),
        );
        let span = if span.is_disabled() {
            tracing::Span::current()
        } else {
            span
        };
        (!span.is_none()).then_some(span)
    }
}

/// Waits for a slot of the scope's limit, if the task is queued. (A cancelled
/// scope aborts the waiting task.)
fn poll_acquire(permit: &mut Permit, record: &TaskRecord, cx: &mut Context<'_>) -> Poll<()> {
    if permit.is_queued() {
        std::task::ready!(permit.poll_acquire(cx));
        record.state.store(RUNNING, Ordering::Release);
    }
    Poll::Ready(())
}

/// What only some tasks carry: a span (when a subscriber enables spans —
/// with one on, most tasks carry theirs), and, rarer still, a timeout, a
/// slot of their scope's limit or hooks ([`Rare`], boxed). A task without
/// any of them carries none of this (`X = ()` in [`TaskFuture`]); one with
/// any carries it inline (48 bytes): its cell takes the second 128-byte
/// step then, as a bare task's with a span does, and the span needs no
/// allocation of its own.
#[derive(Default)]
pub(crate) struct Extra {
    span: Option<tracing::Span>,
    rare: Option<Box<Rare>>,
}

/// What few tasks carry (see [`Extra`]): 56 bytes, whichever of them a task
/// has — its timer's `Sleep` (112 bytes) is boxed on its own when it is
/// armed, so that a task with only a slot of a limit (every task of a
/// request under the layer's `max_tasks`) does not carry it unused.
struct Rare {
    // The timeout bounds the run, not the wait for a slot: its timer is
    // armed when the task starts running.
    timer: Option<Timer>,
    permit: Permit,
    hooks: Option<Hooks>,
}

impl Extra {
    /// What a task needs of this, if it needs any of it.
    fn new(
        span: Option<tracing::Span>,
        timeout: Option<Duration>,
        permit: Permit,
        hooks: Option<Hooks>,
    ) -> Option<Extra> {
        let rare = (timeout.is_some() || !permit.is_unlimited() || hooks.is_some()).then(|| {
            Box::new(Rare {
                timer: timeout.map(|after| Timer::Unarmed { after }),
                permit,
                hooks,
            })
        });
        if span.is_none() && rare.is_none() {
            return None;
        }
        Some(Extra { span, rare })
    }

    /// The rare parts, if the task has them.
    fn rare(&mut self) -> Option<&mut Rare> {
        self.rare.as_deref_mut()
    }
}

/// A task's [`Extra`], if it carries one: `()` for a task that does not,
/// which makes it no larger.
pub(crate) trait Extras: Send + 'static {
    fn get(&mut self) -> Option<&mut Extra>;
}

impl Extras for () {
    #[inline]
    fn get(&mut self) -> Option<&mut Extra> {
        None
    }
}

impl Extras for Extra {
    #[inline]
    fn get(&mut self) -> Option<&mut Extra> {
        Some(self)
    }
}

/// A running task's membership of its scope, and its [`Extra`] if it has
/// one. Dropping it settles the task, with its hooks.
struct Task<X: Extras> {
    record: Arc<TaskRecord>,
    extras: X,
}

impl<X: Extras> Drop for Task<X> {
    fn drop(&mut self) {
        let hooks = self.extras.get().and_then(Extra::rare).and_then(|rare| {
            // Its slot of the limit goes before the task leaves the books.
            drop(std::mem::take(&mut rare.permit));
            rare.hooks.take()
        });
        self.record.settle(hooks);
    }
}

pin_project! {
    /// A task's future and membership while it runs; `Done` once the runtime
    /// has dropped it.
    #[project = StateProj]
    #[project_replace = StateReplace]
    enum TaskState<F, X: Extras> {
        Running {
            #[pin]
            future: CatchUnwind<F>,
            task: Task<X>,
        },
        Done,
    }
}

pin_project! {
    /// The future every async task runs: waits for a slot of the limit, then
    /// runs the user's future in its scope and span, catching a panic and
    /// bounded by its timeout. The task settles when the runtime drops it,
    /// right after it returns (or when it is stopped: cancellation needs no
    /// branch here, it aborts the task), once its future has been dropped in
    /// its scope and span.
    ///
    /// It is the user's future and one pointer, the record (`X`, an [`Extra`]
    /// for the few tasks that need one, is `()` otherwise; `C` is a type;
    /// `Done` is the record's null): a runtime's task cell grows in steps of
    /// 128 bytes, and a bare task whose future is up to three pointers fits
    /// the first step, so a task of two pointers spawned here stays in it as
    /// well.
    pub(crate) struct TaskFuture<F, C, X: Extras> {
        #[pin]
        state: TaskState<F, X>,
        classify: PhantomData<fn() -> C>,
    }

    impl<F, C, X: Extras> PinnedDrop for TaskFuture<F, C, X> {
        // The future is dropped in its scope and span, as it was polled, and
        // only then does the task settle — also if dropping it panicked (the
        // `Task` is moved out first, and settles as it is dropped).
        fn drop(this: Pin<&mut Self>) {
            let mut state = this.project().state;
            let (record, span) = match state.as_mut().project() {
                StateProj::Running { task, .. } => (
                    Arc::clone(&task.record),
                    task.extras.get().and_then(|extra| extra.span.take()),
                ),
                StateProj::Done => return,
            };
            let entered = span.as_ref().map(tracing::Span::enter);
            let mut lent = Some(record);
            let replaced = current::enter(&mut lent, || state.project_replace(TaskState::Done));
            drop(entered);
            drop(replaced);
        }
    }
}

impl<F: Future, C, X: Extras> TaskFuture<F, C, X> {
    fn new(future: F, member: Member, extras: X) -> Self {
        TaskFuture {
            state: TaskState::Running {
                future: CatchUnwind::new(future),
                task: Task {
                    record: member.into_record(),
                    extras,
                },
            },
            classify: PhantomData,
        }
    }
}

impl<F: Future, C: Classify<F::Output>, X: Extras> Future for TaskFuture<F, C, X> {
    type Output = TaskOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let StateProj::Running { future, task } = self.project().state.project() else {
            panic!("scope-spawn: task polled after completion");
        };
        let Task { record, extras } = task;
        assert!(
            record.outcome.load(Ordering::Relaxed) == UNSETTLED,
            "scope-spawn: task polled after completion"
        );
        let (span, rare) = match extras.get() {
            Some(Extra { span, rare }) => (span.as_ref(), rare.as_deref_mut()),
            None => (None, None),
        };
        let (mut timer, permit) = match rare {
            Some(Rare { timer, permit, .. }) => (Some(timer), Some(permit)),
            None => (None, None),
        };
        let _entered = span.map(tracing::Span::enter);
        if let Some(permit) = permit {
            std::task::ready!(poll_acquire(permit, record, cx));
        }
        if let Some(slot) = timer.as_mut() {
            if slot.as_mut().is_some_and(|timer| !timer.arm()) {
                // Too far away to represent: no timeout.
                **slot = None;
            }
        }
        let mut lent = Some(Arc::clone(record));
        let poll = {
            let _current = current::Entered::new(&mut lent);
            future.poll(cx)
        };
        // Done, or stopped by its timeout: the runtime drops the future next,
        // and the task settles then.
        match poll {
            Poll::Ready(Ok(out)) => {
                record.returned::<_, C>(&out);
                Poll::Ready(Ok(out))
            }
            Poll::Ready(Err(payload)) => {
                record.panicked(panic_message(&*payload));
                Poll::Ready(Err(Stop::Panicked))
            }
            Poll::Pending => {
                let timed_out = timer
                    .and_then(|timer| timer.as_mut())
                    .is_some_and(|timer| timer.poll_elapsed(cx));
                if !timed_out {
                    return Poll::Pending;
                }
                record.timed_out();
                Poll::Ready(Err(Stop::TimedOut))
            }
        }
    }
}

/// A task's timeout: its length until the task starts running, then the
/// timer, boxed (see [`Rare`]).
enum Timer {
    Unarmed { after: Duration },
    Armed { sleep: Pin<Box<Sleep>> },
}

impl Timer {
    /// Arms the timer if it is not armed yet; false if its deadline cannot be
    /// represented.
    fn arm(&mut self) -> bool {
        if let Timer::Unarmed { after } = *self {
            let Some(at) = Instant::now().checked_add(after) else {
                return false;
            };
            *self = Timer::Armed {
                sleep: Box::pin(tokio::time::sleep_until(at)),
            };
        }
        true
    }

    /// Whether the armed timer has gone off.
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Timer::Armed { sleep } => sleep.as_mut().poll(cx).is_ready(),
            Timer::Unarmed { .. } => false,
        }
    }
}

/// A task admitted to its scope and wrapped, ready to spawn.
pub(crate) struct Prepared<'a, Fut> {
    pub(crate) future: Fut,
    pub(crate) attach: Attach<'a>,
}

/// What is left to do once a prepared task is spawned: give its abort handle
/// to its record.
pub(crate) struct Attach<'a> {
    record: Arc<TaskRecord>,
    scope: &'a Scope,
}

impl Attach<'_> {
    pub(crate) fn attach(&self, handle: AbortHandle) {
        self.scope.attach(&self.record, handle);
    }

    /// The task's record, which turns its [`Stop`] into a [`TaskError`].
    pub(crate) fn record(&self) -> Arc<TaskRecord> {
        Arc::clone(&self.record)
    }

    fn handle<T>(self, join: JoinHandle<TaskOutput<T>>) -> TaskHandle<T> {
        self.attach(join.abort_handle());
        TaskHandle {
            inner: HandleInner::Spawned {
                join,
                record: self.record,
            },
        }
    }
}

impl Scope {
    /// Spawns a task into this scope. It is cancelled when the scope is, runs
    /// with this scope as [`Scope::current`], and inside a span whose parent is
    /// the span current here.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let scope = scope_spawn::Scope::new();
    /// let answer = scope.spawn(async { 42 });
    /// assert_eq!(answer.await, Ok(42));
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with::<F, NoFailure>(TaskOptions::new(), future, None)
    }

    /// Spawns a named task. The name shows in snapshots, spans, failures and
    /// (with `--cfg tokio_unstable`) tokio-console.
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<Name>, future: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with::<F, NoFailure>(TaskOptions::new().name(name), future, None)
    }

    /// Spawns a task whose `Err` counts as a failure under the scope's
    /// [`Policy`](crate::Policy): reported by `join`, and under `FailFast`
    /// cancelling the scope.
    #[track_caller]
    pub fn try_spawn<F, T, E>(&self, future: F) -> TaskHandle<Result<T, E>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        self.spawn_with::<F, ErrFailure>(TaskOptions::new(), future, None)
    }

    /// Spawns a task with hooks: exactly one of them runs, whatever happens to
    /// the task. `on_completion` runs when the future ran to completion;
    /// `on_cancellation` runs when it did not — it was cancelled, timed out,
    /// aborted, refused by a cancelled scope, or it **panicked** (the panic is
    /// still reported on the handle and to the scope).
    #[track_caller]
    pub fn spawn_with_hooks<F, C, D>(
        &self,
        future: F,
        on_completion: C,
        on_cancellation: D,
    ) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        C: FnOnce() + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let hooks: Hooks = Box::new(move |completed| {
            if completed {
                on_completion()
            } else {
                on_cancellation()
            }
        });
        self.spawn_with::<F, NoFailure>(TaskOptions::new(), future, Some(hooks))
    }

    /// Spawns a guarded task: not cancelled when the scope is cancelled, but
    /// still tracked — `join` and `shutdown` wait for it, and `shutdown` aborts
    /// it at its deadline. For work that must finish even if the client goes
    /// away, such as an audit write.
    #[track_caller]
    pub fn spawn_guarded<F>(&self, future: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with::<F, NoFailure>(TaskOptions::new().guarded(), future, None)
    }

    /// Runs a closure on tokio's blocking pool, tracked by the scope. It cannot
    /// be interrupted, but it runs with this scope as [`Scope::current`], so it
    /// can check [`Scope::is_cancelled`].
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_blocking_with(TaskOptions::new(), f)
    }

    /// A builder for a task with a name, a timeout, or guarded.
    pub fn task(&self) -> TaskBuilder<'_> {
        TaskBuilder {
            scope: self,
            options: TaskOptions::new(),
        }
    }

    #[track_caller]
    pub(crate) fn spawn_with<F, C>(
        &self,
        options: TaskOptions,
        future: F,
        hooks: Option<Hooks>,
    ) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        C: Classify<F::Output>,
    {
        let (member, extra) = match self.admit_async(&options, hooks) {
            Ok(admitted) => admitted,
            Err(err) => return TaskHandle::refused(err, options.name),
        };
        let attach = Attach {
            record: Arc::clone(member.record()),
            scope: self,
        };
        let name = options.name.as_deref();
        // Two types of task, so that one that needs no `Extra` does not
        // carry even its pointer.
        let join = match extra {
            None => spawn_on_runtime(name, TaskFuture::<F, C, ()>::new(future, member, ())),
            Some(extra) => {
                spawn_on_runtime(name, TaskFuture::<F, C, _>::new(future, member, extra))
            }
        };
        attach.handle(join)
    }

    /// Admits an async task, with what it needs besides its record. A task
    /// refused runs its hooks (as not completed) at once.
    fn admit_async(
        &self,
        options: &TaskOptions,
        hooks: Option<Hooks>,
    ) -> Result<(Member, Option<Extra>), TaskError> {
        let Admitted { member, permit } = match self.admit(options, false) {
            Ok(admitted) => admitted,
            Err(err) => {
                if let Some(hooks) = hooks {
                    hooks(false);
                }
                return Err(err);
            }
        };
        let span = self.task_span(member.record());
        let extra = Extra::new(span, options.timeout, permit, hooks);
        Ok((member, extra))
    }

    /// Admits a task and wraps its future: the scope made current (see
    /// `current`), its span, the limit, timeout, panic catching and
    /// settlement.
    pub(crate) fn prepare<F, C>(
        &self,
        options: &TaskOptions,
        future: F,
    ) -> Result<Prepared<'_, impl Future<Output = TaskOutput<F::Output>> + Send + 'static>, TaskError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        C: Classify<F::Output>,
    {
        let (member, extra) = self.admit_async(options, None)?;
        let attach = Attach {
            record: Arc::clone(member.record()),
            scope: self,
        };
        Ok(Prepared {
            // Built into a `JoinSet`'s own task, so no second type: an empty
            // `Extra` for a task that needs none.
            future: TaskFuture::<F, C, _>::new(future, member, extra.unwrap_or_default()),
            attach,
        })
    }

    #[track_caller]
    pub(crate) fn spawn_blocking_with<F, T>(&self, options: TaskOptions, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Admitted { member, permit } = match self.admit(&options, true) {
            Ok(admitted) => admitted,
            Err(err) => return TaskHandle::refused(err, options.name),
        };
        let span = self.plain_span(member.record());
        let context = options.context;
        let attach = Attach {
            record: Arc::clone(member.record()),
            scope: self,
        };
        let join = if permit.is_queued() {
            tokio::spawn(blocking_task(member, permit, context, f).instrument(span))
        } else {
            tokio::task::spawn_blocking(move || run_blocking(member, permit, span, context, f))
        };
        attach.handle(join)
    }

    /// Admits a blocking closure and returns the async task that waits for a
    /// slot of the limit and then runs it on the blocking pool.
    pub(crate) fn prepare_blocking<F, T>(
        &self,
        options: &TaskOptions,
        f: F,
    ) -> Result<Prepared<'_, impl Future<Output = TaskOutput<T>> + Send + 'static>, TaskError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Admitted { member, permit } = self.admit(options, true)?;
        let span = self.plain_span(member.record());
        let attach = Attach {
            record: Arc::clone(member.record()),
            scope: self,
        };
        Ok(Prepared {
            future: blocking_task(member, permit, options.context, f).instrument(span),
            attach,
        })
    }

    /// A task's span, for blocking closures.
    fn plain_span(&self, record: &TaskRecord) -> tracing::Span {
        self.task_span(record).unwrap_or_else(tracing::Span::none)
    }
}

async fn blocking_task<F, T>(
    member: Member,
    mut permit: Permit,
    context: bool,
    f: F,
) -> TaskOutput<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::future::poll_fn(|cx| poll_acquire(&mut permit, member.record(), cx)).await;
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || run_blocking(member, permit, span, context, f)).await
    {
        Ok(out) => out,
        Err(_) => Err(Stop::Aborted),
    }
}

fn run_blocking<F, T>(
    mut member: Member,
    permit: Permit,
    span: tracing::Span,
    context: bool,
    f: F,
) -> TaskOutput<T>
where
    F: FnOnce() -> T,
{
    let _entered = span.enter();
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if context {
            current::enter(&mut member.record, f)
        } else {
            f()
        }
    }));
    drop(permit);
    let record = member.record();
    let out = match ran {
        Ok(out) => {
            record.returned::<_, NoFailure>(&out);
            Ok(out)
        }
        Err(payload) => {
            record.panicked(panic_message(&*payload));
            Err(Stop::Panicked)
        }
    };
    member.settle(None);
    out
}

#[track_caller]
fn spawn_on_runtime<F>(name: Option<&str>, task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[cfg(tokio_unstable)]
    {
        let mut builder = tokio::task::Builder::new();
        if let Some(name) = name {
            builder = builder.name(name);
        }
        builder
            .spawn(task)
            .expect("scope-spawn: tokio could not spawn a task")
    }
    #[cfg(not(tokio_unstable))]
    {
        let _ = name;
        tokio::spawn(task)
    }
}

/// A builder for a task, from [`Scope::task`], for combinations of name,
/// timeout and guarded.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use scope_spawn::{Scope, TaskError};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let scope = Scope::new();
/// let slow = scope
///     .task()
///     .name("slow")
///     .timeout(Duration::from_secs(1))
///     .spawn(std::future::pending::<()>());
/// assert_eq!(slow.await, Err(TaskError::TimedOut));
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a task builder does nothing until `spawn` is called"]
pub struct TaskBuilder<'a> {
    scope: &'a Scope,
    options: TaskOptions,
}

impl TaskBuilder<'_> {
    /// Names the task (a `&'static str` or an owned `String`).
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.options = self.options.name(name);
        self
    }

    /// Bounds the task's run time, from when it starts running (time waiting for
    /// a slot of the scope's limit does not count): when it passes, the task is
    /// stopped and its handle resolves to [`TaskError::TimedOut`].
    ///
    /// # Panics
    ///
    /// If `timeout` is zero. A timeout too large to represent means no timeout.
    #[track_caller]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options = self.options.timeout(timeout);
        self
    }

    /// Makes the task guarded (see [`Scope::spawn_guarded`]).
    pub fn guarded(mut self) -> Self {
        self.options = self.options.guarded();
        self
    }

    /// Spawns the task.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scope
            .spawn_with::<F, NoFailure>(self.options, future, None)
    }

    /// Spawns the task, counting its `Err` as a failure (see [`Scope::try_spawn`]).
    #[track_caller]
    pub fn try_spawn<F, T, E>(self, future: F) -> TaskHandle<Result<T, E>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        self.scope
            .spawn_with::<F, ErrFailure>(self.options, future, None)
    }

    /// Runs a closure on the blocking pool (the timeout does not apply: blocking
    /// closures cannot be interrupted).
    #[track_caller]
    pub fn spawn_blocking<F, T>(self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.scope.spawn_blocking_with(self.options, f)
    }
}

// Two pointers: handles are kept by the thousand (in a `Vec`, a `JoinSet`
// of them, a struct per request), so a refused spawn, which is rare, keeps
// what it says in a box rather than making every handle as large as an error.
enum HandleInner<T> {
    Spawned {
        join: JoinHandle<TaskOutput<T>>,
        record: Arc<TaskRecord>,
    },
    Refused(Box<Refused>),
}

/// A spawn that did not happen: why, and the id and name it would have had.
struct Refused {
    err: Option<TaskError>,
    id: TaskId,
    name: Option<Name>,
}

/// A handle to a task spawned through a scope; awaiting it yields the task's
/// output or why there is none.
///
/// Dropping the handle only detaches it: the task stays governed by its scope.
///
/// # Cancel safety
///
/// Awaiting a `TaskHandle` is cancel safe: dropping the `.await` loses nothing;
/// the task goes on.
#[must_use = "dropping a TaskHandle detaches it; the task goes on under its scope"]
pub struct TaskHandle<T> {
    inner: HandleInner<T>,
}

impl<T> TaskHandle<T> {
    fn refused(err: TaskError, name: Option<Name>) -> Self {
        TaskHandle {
            inner: HandleInner::Refused(Box::new(Refused {
                err: Some(err),
                id: TaskId::next(),
                name,
            })),
        }
    }

    /// Aborts the task: it is stopped at its next `.await` and its handle
    /// resolves to [`TaskError::Aborted`]. A blocking closure is only stopped if
    /// it has not started.
    pub fn abort(&self) {
        if let HandleInner::Spawned { join, .. } = &self.inner {
            join.abort();
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        match &self.inner {
            HandleInner::Spawned { record, .. } => record.id,
            HandleInner::Refused(refused) => refused.id,
        }
    }

    /// The task's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        match &self.inner {
            HandleInner::Spawned { record, .. } => record.name.as_deref(),
            HandleInner::Refused(refused) => refused.name.as_deref(),
        }
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            HandleInner::Spawned { join, .. } => join.is_finished(),
            HandleInner::Refused(_) => true,
        }
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            HandleInner::Spawned { join, record } => match Pin::new(join).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(out)) => Poll::Ready(out.map_err(|stop| record.error(stop))),
                Poll::Ready(Err(err)) if err.is_panic() => {
                    // Only a panicking hook can get here: the task's own panic
                    // is caught inside the task.
                    Poll::Ready(Err(TaskError::Panicked(panic_message(&*err.into_panic()))))
                }
                // Stopped from outside; the record says whether by its scope.
                Poll::Ready(Err(_)) if record.state() == CANCELLED => {
                    Poll::Ready(Err(TaskError::Cancelled(
                        record
                            .cancel_reason()
                            .unwrap_or(CancelReason::ParentCancelled),
                    )))
                }
                Poll::Ready(Err(_)) => Poll::Ready(Err(TaskError::Aborted)),
            },
            HandleInner::Refused(refused) => Poll::Ready(Err(refused
                .err
                .take()
                .expect("scope-spawn: TaskHandle polled after completion"))),
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

pin_project! {
    /// Catches a panic of the inner future, like `std::panic::catch_unwind`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind { future }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

#[cfg(all(test, not(scope_spawn_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_task_handle_is_two_pointers_and_a_record_fits_112_bytes_with_its_counts() {
        // Handles are kept by the thousand; a record is allocated per task.
        assert_eq!(
            std::mem::size_of::<TaskHandle<()>>(),
            2 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<TaskHandle<[u64; 8]>>(),
            2 * std::mem::size_of::<usize>()
        );
        // The `Arc`'s two counts and the record: id, name, start, the lock
        // with the abort handle and the scope, the details' box, and its
        // four flags.
        let record = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<TaskRecord>();
        assert!(record <= 112, "{record} bytes");
    }

    #[test]
    fn a_task_is_its_future_and_one_pointer_and_outputs_its_own_output_and_a_byte() {
        // What keeps a small task in the runtime's smallest cell (see
        // `TaskFuture`): an async block holding two pointers...
        let (a, b) = (Arc::new(1_u8), Arc::new(2_u8));
        let future = async move { *a + *b };
        let size = std::mem::size_of_val(&future);
        type Lean<F> = TaskFuture<F, NoFailure, ()>;
        fn lean_size<F: Future>(_: &F) -> usize {
            std::mem::size_of::<Lean<F>>()
        }
        // ...is, spawned here, those and the record.
        assert_eq!(lean_size(&future), size + std::mem::size_of::<usize>());
        // Its output: the task's own, or a `Stop`.
        assert_eq!(std::mem::size_of::<TaskOutput<()>>(), 1);
        assert_eq!(std::mem::size_of::<TaskOutput<u64>>(), 16);
    }
}
