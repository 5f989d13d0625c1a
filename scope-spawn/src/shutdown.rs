//! [`ScopeGuard::shutdown`](crate::ScopeGuard::shutdown)'s bookkeeping: which
//! tasks were live when it began, waiting for aborted tasks to stop, and the
//! report.

use std::sync::Arc;
use std::time::Duration;

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
        records.extend(scope.inner.lock_state().tasks.values().cloned());
        stack.extend(scope.children());
    }
    records
}

/// After the hard cancellation, aborted tasks stop at their next poll; wait for
/// that (blocking closures excepted), for at most a second.
pub(crate) async fn wait_for_aborted(records: &[Arc<TaskRecord>]) {
    for round in 0..1000 {
        if records.iter().all(|r| r.blocking || r.is_settled()) {
            return;
        }
        if round < 16 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
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
