//! `shutdown(deadline)`: cancel, wait, really stop stragglers, count exactly.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scope_spawn::{CancelReason, Scope, TaskError};
use tokio::sync::oneshot;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_waits_for_guarded_tasks_and_counts_exactly() {
    let root = Scope::builder().name("server").build();
    let request = Scope::builder().name("request").parent(&root).build();

    let cancelled: Vec<_> = (0..3).map(|_| request.spawn(pending::<()>())).collect();
    let audit = request.spawn_guarded(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        "written"
    });
    let finished = root.spawn(async {});
    finished.await.unwrap(); // settled before shutdown: not counted
    let panicking = root.spawn_guarded(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        panic!("during shutdown")
    });
    assert_eq!(root.live_tasks(), 5);

    let start = Instant::now();
    let report = root.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(report.cancelled, 3, "{report:?}");
    assert_eq!(report.panicked, 1, "{report:?}");
    assert_eq!(report.aborted, 0, "{report:?}");
    assert_eq!(report.total(), 5);
    assert!(!report.deadline_exceeded);
    assert!(start.elapsed() < Duration::from_secs(1));

    for task in cancelled {
        assert_eq!(
            task.await,
            Err(TaskError::Cancelled(CancelReason::ParentCancelled))
        );
    }
    assert_eq!(audit.await, Ok("written"));
    assert!(panicking.await.unwrap_err().is_panic());
    assert_eq!(request.cancel_reason(), Some(CancelReason::ParentCancelled));
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_stuck_guarded_tasks_at_the_deadline_and_they_stop_running() {
    let root = Scope::new();
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = ticks.clone();
    let stuck = root.spawn_guarded(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let child = root.child();
    let stuck_in_child = child.spawn_guarded(pending::<()>());

    let start = Instant::now();
    let report = root.shutdown(Duration::from_millis(500)).await;
    let elapsed = start.elapsed();
    assert_eq!(report.aborted, 2, "{report:?}");
    assert_eq!(report.total(), 2);
    assert!(report.deadline_exceeded);
    assert!(elapsed >= Duration::from_millis(500));
    assert!(elapsed < Duration::from_millis(600), "took {elapsed:?}");

    assert_eq!(stuck.await, Err(TaskError::Aborted));
    assert_eq!(stuck_in_child.await, Err(TaskError::Aborted));
    let after = ticks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        after,
        "an aborted task kept running"
    );
}

// Real time: tokio does not auto-advance a paused clock while a blocking task runs.
#[tokio::test]
async fn shutdown_counts_blocking_closures_that_cannot_be_stopped() {
    let root = Scope::new();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let blocking = root.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
        "finished late"
    });
    started_rx.await.unwrap();
    let report = root.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.still_running, 1, "{report:?}");
    release.send(()).unwrap();
    assert_eq!(blocking.await, Ok("finished late"));
}

#[tokio::test]
async fn shutdown_of_an_empty_scope_reports_nothing() {
    let report = Scope::new().shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.total(), 0);
    assert!(!report.deadline_exceeded);
}

#[tokio::test(start_paused = true)]
async fn spawning_into_a_shut_down_scope_is_refused_guarded_or_not() {
    let root = Scope::new();
    let scope = root.clone();
    root.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        scope.spawn(async {}).await,
        Err(TaskError::Cancelled(CancelReason::Shutdown))
    );
    assert_eq!(
        scope.spawn_guarded(async {}).await,
        Err(TaskError::Cancelled(CancelReason::Shutdown))
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_scope_refuses_plain_spawns_but_runs_guarded_ones_until_it_shuts_down() {
    let root = Scope::new();
    root.cancel();
    assert_eq!(
        root.spawn(async {}).await,
        Err(TaskError::Cancelled(CancelReason::Requested(None)))
    );
    assert_eq!(root.spawn_guarded(async { "audited" }).await, Ok("audited"));
    let child = root.child();
    assert_eq!(child.spawn_guarded(async { "below" }).await, Ok("below"));
    drop(child);
    let scope = root.clone();
    root.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        scope.spawn_guarded(async {}).await,
        Err(TaskError::Cancelled(CancelReason::Requested(None)))
    );
}

#[tokio::test(start_paused = true)]
async fn guarded_tasks_survive_cancel_but_not_the_shutdown_deadline() {
    let root = Scope::new();
    let (tx, rx) = oneshot::channel::<()>();
    let guarded = root.spawn_guarded(async move {
        rx.await.unwrap();
        "finished after cancel"
    });
    root.cancel();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!guarded.is_finished());
    tx.send(()).unwrap();
    assert_eq!(guarded.await, Ok("finished after cancel"));
}
