//! Spawning: task options, the per-task bookkeeping, the wrapper every task runs
//! in, and [`TaskHandle`].

use std::any::Any;
use std::fmt;
use std::future::Future;
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
use crate::reason::ReasonCell;
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
/// Not settled yet (an `Admission`'s outcome before it settles).
const UNSETTLED: u8 = u8::MAX;

/// What a scope knows of one of its live tasks.
pub(crate) struct TaskRecord {
    pub(crate) id: TaskId,
    pub(crate) name: Option<Name>,
    pub(crate) started: Instant,
    pub(crate) guarded: bool,
    pub(crate) blocking: bool,
    pub(crate) state: AtomicU8,
    /// How cancellation stops the task: set right after it is spawned, taken
    /// by whoever stops it first (see `gate`).
    abort: AbortSlot<AbortHandle>,
    /// Why the task's scope stopped it, for its handle: the reason's code,
    /// and its data if it has some (see [`ReasonCell`]).
    cancelled: ReasonCell,
    cancelled_data: OnceBox<CancelReason>,
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
        if let Some(handle) = self.abort.take() {
            handle.abort();
        }
    }
}

type Hooks = Box<dyn FnOnce(bool) + Send + 'static>;

/// A task's membership of its scope, from spawn to settlement: it holds one
/// count of the scope's [`Holds`](crate::books::Holds). Dropping it (the task
/// finished, was aborted or cancelled, or never started) takes the task off
/// the books.
pub(crate) struct Admission {
    /// The task's scope. `None` only while the task is being polled: then it
    /// is the current scope (see [`current::enter`]).
    scope: Option<Scope>,
    pub(crate) record: Arc<TaskRecord>,
    permit: Permit,
    /// Boxed once more, to keep the task small (a thin pointer): tokio moves
    /// a task's future by value several times on its way. That costs tasks
    /// with hooks (`spawn_with_hooks`) a second allocation.
    hooks: Option<Box<Hooks>>,
    /// How the task ended, published to the record once the task has left the
    /// books (see `Drop`).
    outcome: u8,
}

impl Scope {
    /// Admits a task, or says why it cannot run.
    pub(crate) fn admit(&self, opts: &TaskOptions, blocking: bool) -> Result<Admission, TaskError> {
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
            abort: AbortSlot::new(),
            cancelled: ReasonCell::default(),
            cancelled_data: OnceBox::new(),
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
        Ok(Admission {
            scope: Some(self.clone()),
            record,
            permit,
            hooks: None,
            outcome: UNSETTLED,
        })
    }

    /// Gives a spawned task's abort handle to its record, so that cancellation
    /// (or a shutdown deadline) can stop it; stops it at once if that already
    /// happened.
    pub(crate) fn attach(&self, record: &TaskRecord, handle: AbortHandle) {
        // See `gate`: publish, then read the flags.
        record.abort.publish(handle);
        let inner = &self.inner;
        if inner.aborting.load(Ordering::SeqCst)
            || (!record.guarded && inner.cancelled.load(Ordering::SeqCst))
        {
            record.abort();
        }
    }
}

impl Admission {
    fn scope(&self) -> &Scope {
        self.scope
            .as_ref()
            .expect("scope-spawn: a task's scope is only lent out while it is polled")
    }

    /// The task's span: `scope_task` when it is enabled, else the caller's
    /// span, or `None` when neither is (no subscriber), which spares the task
    /// the span's size and its enter and exit on every poll.
    fn span(&self) -> Option<Box<tracing::Span>> {
        if tracing::level_filters::LevelFilter::current()
            == tracing::level_filters::LevelFilter::OFF
        {
            // No subscriber enables anything: there is no span to make or carry.
            return None;
        }
        let scope = &self.scope().inner;
        let span = tracing::debug_span!(
            "scope_task",
            task.name = self.record.name.as_deref().unwrap_or(""),
            task.id = self.record.id.0,
            scope.name = &*scope.name,
            scope.id = scope.id.as_u64(),
        );
        let span = if span.is_disabled() {
            tracing::Span::current()
        } else {
            span
        };
        (!span.is_none()).then(|| Box::new(span))
    }

    /// The task's span, for blocking closures.
    fn plain_span(&self) -> tracing::Span {
        self.span().map_or_else(tracing::Span::none, |span| *span)
    }

    /// Waits for a slot of the scope's limit. (A cancelled scope aborts the
    /// waiting task.)
    fn poll_acquire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.permit.is_queued() {
            std::task::ready!(self.permit.poll_acquire(cx));
            self.record.state.store(RUNNING, Ordering::Release);
        }
        Poll::Ready(())
    }

    /// Records how the task ended, reports a failure, runs the hooks.
    fn settle<T>(mut self, out: &Result<T, TaskError>, failure: Option<String>) {
        let (state, kind) = match (out, failure) {
            (Ok(_), None) => (COMPLETED, None),
            (Ok(_), Some(msg)) => (FAILED, Some(FailureKind::Error(msg))),
            (Err(TaskError::Cancelled(_)), _) => (CANCELLED, None),
            (Err(TaskError::Panicked(msg)), _) => {
                (PANICKED, Some(FailureKind::Panicked(msg.clone())))
            }
            (Err(TaskError::TimedOut), _) => (TIMED_OUT, None),
            (Err(TaskError::Aborted | TaskError::QueueFull), _) => (ABORTED, None),
        };
        self.outcome = state;
        if let Some(kind) = kind {
            self.scope().report_failure(TaskFailure {
                id: self.record.id,
                name: self.record.name.clone(),
                kind,
            });
        }
        if let Some(hooks) = self.hooks.take() {
            let completed = out.is_ok();
            current::enter(&mut self.scope, || hooks(completed));
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let Some(scope) = self.scope.take() else {
            // Only if the scope was lost while lent out, which the thread-local
            // never does while the thread runs tasks.
            return;
        };
        if self.outcome == UNSETTLED {
            // Dropped without settling: stopped by its scope's cancellation, or
            // aborted (by its handle, or at a shutdown deadline).
            let cancelled = !self.record.guarded
                && !scope.inner.aborting.load(Ordering::SeqCst)
                && scope.inner.cancelled.load(Ordering::SeqCst);
            self.outcome = if cancelled { CANCELLED } else { ABORTED };
            if cancelled {
                if let TaskError::Cancelled(reason) = scope.cancelled_error() {
                    let record = &*self.record;
                    record.cancelled.set(reason, || &record.cancelled_data);
                }
            }
            if let Some(hooks) = self.hooks.take() {
                // In the task's scope, as when it completes.
                let mut lent = Some(scope.clone());
                current::enter(&mut lent, || hooks(false));
            }
        }
        // Once a record reads as settled, the task's hooks have run and it is
        // off the books (`live_tasks`, snapshots), which is what `shutdown`
        // waits for; then it stops holding the scope, which `join` waits for.
        self.record.state.store(self.outcome, Ordering::Release);
        scope.uncount_leaving();
        crate::shutdown::task_settled();
    }
}

pin_project! {
    /// The future every async task runs: waits for a slot of the limit, then
    /// runs the user's future in its scope and span, catching a panic and
    /// bounded by its timeout, and settles. Cancellation needs no branch here:
    /// it aborts the task.
    struct TaskFuture<F: Future> {
        // `None` once dropped (see `PinnedDrop`).
        #[pin]
        future: Option<CatchUnwind<F>>,
        span: Option<Box<tracing::Span>>,
        // The timeout bounds the run, not the wait for a slot: its timer is
        // armed when the task starts running. Boxed (one pointer), as are the
        // span and the hooks, so that the task stays small: tokio moves a
        // task's future by value several times between spawn and join, and a
        // small one is moved inline rather than with a call to `memcpy`.
        timer: Option<Pin<Box<Timer>>>,
        admission: Option<Admission>,
        classify: fn(&F::Output) -> Option<String>,
    }

    impl<F: Future> PinnedDrop for TaskFuture<F> {
        // A task stopped before it finished drops its future in its scope and
        // span, as it polled it, and only then settles (`Admission::drop`).
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut future = this.future;
            if let Some(admission) = this.admission.as_mut() {
                let _entered = this.span.as_deref().map(tracing::Span::enter);
                current::enter(&mut admission.scope, || future.set(None));
            }
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let admission = this
            .admission
            .as_mut()
            .expect("scope-spawn: task polled after completion");
        let _entered = this.span.as_deref().map(tracing::Span::enter);
        std::task::ready!(admission.poll_acquire(cx));
        if let Some(timer) = this.timer.as_mut() {
            if !timer.as_mut().arm() {
                // Too far away to represent: no timeout.
                *this.timer = None;
            }
        }
        let (mut future, timer) = (this.future, this.timer);
        let out = current::enter(&mut admission.scope, || {
            let out = match future
                .as_mut()
                .as_pin_mut()
                .expect("scope-spawn: task polled after completion")
                .poll(cx)
            {
                Poll::Ready(Ok(out)) => Ok(out),
                Poll::Ready(Err(payload)) => Err(TaskError::Panicked(panic_message(&*payload))),
                Poll::Pending => {
                    let timed_out = timer
                        .as_mut()
                        .is_some_and(|timer| timer.as_mut().poll_elapsed(cx));
                    if !timed_out {
                        return None;
                    }
                    Err(TaskError::TimedOut)
                }
            };
            // Done, or stopped by its timeout: the future goes now, in its
            // scope and span, before the task settles.
            future.set(None);
            Some(out)
        });
        let Some(out) = out else {
            return Poll::Pending;
        };
        let failure = out.as_ref().ok().and_then(*this.classify);
        if let Some(admission) = this.admission.take() {
            admission.settle(&out, failure);
        }
        Poll::Ready(out)
    }
}

pin_project! {
    /// A task's timeout: its length until the task starts running, then the
    /// timer.
    #[project = TimerProj]
    enum Timer {
        Unarmed { after: Duration },
        Armed {
            #[pin]
            sleep: Sleep,
        },
    }
}

impl Timer {
    /// Arms the timer if it is not armed yet; false if its deadline cannot be
    /// represented.
    fn arm(mut self: Pin<&mut Self>) -> bool {
        if let TimerProj::Unarmed { after } = self.as_mut().project() {
            let Some(at) = Instant::now().checked_add(*after) else {
                return false;
            };
            self.set(Timer::Armed {
                sleep: tokio::time::sleep_until(at),
            });
        }
        true
    }

    /// Whether the armed timer has gone off.
    fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        match self.project() {
            TimerProj::Armed { sleep } => sleep.poll(cx).is_ready(),
            TimerProj::Unarmed { .. } => false,
        }
    }
}

fn no_failure<T>(_: &T) -> Option<String> {
    None
}

fn result_failure<T, E: fmt::Display>(out: &Result<T, E>) -> Option<String> {
    out.as_ref().err().map(ToString::to_string)
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

    fn handle<T>(self, join: JoinHandle<Result<T, TaskError>>) -> TaskHandle<T> {
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
        self.spawn_with(TaskOptions::new(), future, None, no_failure)
    }

    /// Spawns a named task. The name shows in snapshots, spans, failures and
    /// (with `--cfg tokio_unstable`) tokio-console.
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<Name>, future: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(TaskOptions::new().name(name), future, None, no_failure)
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
        self.spawn_with(TaskOptions::new(), future, None, result_failure)
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
        self.spawn_with(TaskOptions::new(), future, Some(hooks), no_failure)
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
        self.spawn_with(TaskOptions::new().guarded(), future, None, no_failure)
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
    pub(crate) fn spawn_with<F>(
        &self,
        options: TaskOptions,
        future: F,
        hooks: Option<Hooks>,
        classify: fn(&F::Output) -> Option<String>,
    ) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.prepare(&options, future, hooks, classify) {
            Ok(Prepared { future, attach }) => {
                attach.handle(spawn_on_runtime(options.name.as_deref(), future))
            }
            Err(err) => TaskHandle::refused(err, options.name),
        }
    }

    /// Admits a task and wraps its future: the scope made current (see
    /// `current`), its span, the limit, timeout, panic catching and
    /// settlement.
    pub(crate) fn prepare<F>(
        &self,
        options: &TaskOptions,
        future: F,
        hooks: Option<Hooks>,
        classify: fn(&F::Output) -> Option<String>,
    ) -> Result<
        Prepared<'_, impl Future<Output = Result<F::Output, TaskError>> + Send + 'static>,
        TaskError,
    >
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut admission = match self.admit(options, false) {
            Ok(admission) => admission,
            Err(err) => {
                if let Some(hooks) = hooks {
                    hooks(false);
                }
                return Err(err);
            }
        };
        admission.hooks = hooks.map(Box::new);
        let record = Arc::clone(&admission.record);
        let span = admission.span();
        let task = TaskFuture {
            future: Some(CatchUnwind::new(future)),
            span,
            timer: options
                .timeout
                .map(|after| Box::pin(Timer::Unarmed { after })),
            admission: Some(admission),
            classify,
        };
        Ok(Prepared {
            future: task,
            attach: Attach {
                record,
                scope: self,
            },
        })
    }

    #[track_caller]
    pub(crate) fn spawn_blocking_with<F, T>(&self, options: TaskOptions, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admission = match self.admit(&options, true) {
            Ok(admission) => admission,
            Err(err) => return TaskHandle::refused(err, options.name),
        };
        let span = admission.plain_span();
        let context = options.context;
        let attach = Attach {
            record: Arc::clone(&admission.record),
            scope: self,
        };
        let join = if admission.permit.is_queued() {
            tokio::spawn(blocking_task(admission, context, f).instrument(span))
        } else {
            tokio::task::spawn_blocking(move || run_blocking(admission, span, context, f))
        };
        attach.handle(join)
    }

    /// Admits a blocking closure and returns the async task that waits for a
    /// slot of the limit and then runs it on the blocking pool.
    pub(crate) fn prepare_blocking<F, T>(
        &self,
        options: &TaskOptions,
        f: F,
    ) -> Result<Prepared<'_, impl Future<Output = Result<T, TaskError>> + Send + 'static>, TaskError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admission = self.admit(options, true)?;
        let span = admission.plain_span();
        let record = Arc::clone(&admission.record);
        Ok(Prepared {
            future: blocking_task(admission, options.context, f).instrument(span),
            attach: Attach {
                record,
                scope: self,
            },
        })
    }
}

async fn blocking_task<F, T>(mut admission: Admission, context: bool, f: F) -> Result<T, TaskError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::future::poll_fn(|cx| admission.poll_acquire(cx)).await;
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || run_blocking(admission, span, context, f)).await {
        Ok(out) => out,
        Err(_) => Err(TaskError::Aborted),
    }
}

fn run_blocking<F, T>(
    mut admission: Admission,
    span: tracing::Span,
    context: bool,
    f: F,
) -> Result<T, TaskError>
where
    F: FnOnce() -> T,
{
    let _entered = span.enter();
    let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if context {
            current::enter(&mut admission.scope, f)
        } else {
            f()
        }
    }))
    .map_err(|payload| TaskError::Panicked(panic_message(&*payload)));
    admission.settle(&out, None);
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
            .spawn_with(self.options, future, None, no_failure)
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
            .spawn_with(self.options, future, None, result_failure)
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
        join: JoinHandle<Result<T, TaskError>>,
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
                Poll::Ready(Ok(out)) => Poll::Ready(out),
                Poll::Ready(Err(err)) if err.is_panic() => {
                    // Only a panicking hook can get here: the task's own panic
                    // is caught inside the task.
                    Poll::Ready(Err(TaskError::Panicked(panic_message(&*err.into_panic()))))
                }
                // Stopped from outside; the record says whether by its scope.
                Poll::Ready(Err(_)) if record.state() == CANCELLED => {
                    let reason = record.cancelled.get(|| Some(&record.cancelled_data));
                    Poll::Ready(Err(TaskError::Cancelled(
                        reason.unwrap_or(CancelReason::ParentCancelled),
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
    fn a_task_handle_is_two_pointers_and_a_record_fits_96_bytes_with_its_counts() {
        // Handles are kept by the thousand; a record is allocated per task.
        assert_eq!(
            std::mem::size_of::<TaskHandle<()>>(),
            2 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<TaskHandle<[u64; 8]>>(),
            2 * std::mem::size_of::<usize>()
        );
        // The `Arc`'s two counts and the record: id, name, start, abort slot,
        // the reason's box, and its four flags.
        assert!(2 * std::mem::size_of::<usize>() + std::mem::size_of::<TaskRecord>() <= 96);
    }
}
