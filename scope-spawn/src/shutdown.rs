//! [`ScopeGuard::shutdown`](crate::ScopeGuard::shutdown)'s bookkeeping: which
//! tasks were live when it began, waiting for aborted tasks to stop, and the
//! report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::Scope;
use crate::task::{
    ABORTED, CANCELLED, COMPLETED, FAILED, PANICKED, QUEUED, RUNNING, TIMED_OUT, TaskRecord,
};

/// What [`ScopeGuard::shutdown`](crate::ScopeGuard::shutdown) did, counting
/// exactly the tasks that were live in the scope's subtree when it began. Every
/// such task is in exactly one of the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tasks that finished on their own (guarded tasks that made it, tasks that
    /// returned before noticing the cancellation).
    pub completed: usize,
    /// Tasks stopped by the cancellation (or by their own timeout).
    pub cancelled: usize,
    /// Tasks that panicked.
    pub panicked: usize,
    /// Tasks still running at the deadline, and stopped there.
    pub aborted: usize,
    /// Tasks spawned with `try_spawn` that returned `Err`.
    pub failed: usize,
    /// Blocking closures still running when the report was made: they cannot be
    /// interrupted, and finish on their own.
    pub still_running: usize,
    /// Whether the deadline passed before every task settled.
    pub deadline_exceeded: bool,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// The number of tasks the report covers: those live when shutdown began.
    pub fn total(&self) -> usize {
        self.completed
            + self.cancelled
            + self.panicked
            + self.aborted
            + self.failed
            + self.still_running
    }
}

impl std::fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} task(s): {} completed, {} cancelled, {} panicked, {} aborted, {} failed, {} still running; took {:?}{}",
            self.total(),
            self.completed,
            self.cancelled,
            self.panicked,
            self.aborted,
            self.failed,
            self.still_running,
            self.elapsed,
            if self.deadline_exceeded {
                " (deadline exceeded)"
            } else {
                ""
            }
        )
    }
}

/// The records of every live task in the subtree.
pub(crate) fn live_records(scope: &Scope) -> Vec<Arc<TaskRecord>> {
    let mut records = Vec::new();
    let mut stack = vec![scope.clone()];
    while let Some(scope) = stack.pop() {
        records.extend(scope.inner.lock_tasks().live().cloned());
        stack.extend(scope.children());
    }
    records
}

/// Shutdowns in progress, and the notification they wait on: a settling task
/// signals it only while a shutdown waits, so the spawn path pays one relaxed
/// load.
static WAITING: AtomicUsize = AtomicUsize::new(0);
static PROGRESS: Notify = Notify::const_new();

/// Called by every task as it leaves its scope's books.
pub(crate) fn task_settled() {
    if WAITING.load(Ordering::Acquire) > 0 {
        PROGRESS.notify_waiters();
    }
}

struct Waiting;

impl Waiting {
    fn register() -> Self {
        WAITING.fetch_add(1, Ordering::AcqRel);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Waits until every record that `counts` has settled, or `until` passes.
/// Returns whether they all settled.
pub(crate) async fn wait_settled(
    records: &[Arc<TaskRecord>],
    counts: impl Fn(&TaskRecord) -> bool,
    until: Option<Instant>,
) -> bool {
    let _waiting = Waiting::register();
    let all_settled = || records.iter().all(|r| !counts(r) || r.is_settled());
    loop {
        let notified = PROGRESS.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if all_settled() {
            return true;
        }
        match until {
            Some(until) => {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep_until(until) => return all_settled(),
                }
            }
            None => notified.await,
        }
    }
}

pub(crate) fn count(
    records: &[Arc<TaskRecord>],
    deadline_exceeded: bool,
    elapsed: Duration,
) -> ShutdownReport {
    let mut report = ShutdownReport {
        deadline_exceeded,
        elapsed,
        ..ShutdownReport::default()
    };
    for record in records {
        match record.state() {
            COMPLETED => report.completed += 1,
            CANCELLED | TIMED_OUT => report.cancelled += 1,
            PANICKED => report.panicked += 1,
            ABORTED => report.aborted += 1,
            FAILED => report.failed += 1,
            QUEUED | RUNNING => report.still_running += 1,
            _ => unreachable!("scope-spawn: unknown task state"),
        }
    }
    report
}
