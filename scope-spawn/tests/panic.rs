//! Panics are reported on the handle, to the hooks and in the scope's outcome.

use std::sync::{Arc, Mutex};

use scope_spawn::{CancelReason, FailureKind, Scope, TaskError};

#[tokio::test]
async fn a_panic_reaches_the_handle() {
    let guard = Scope::new();
    let task = guard.spawn(async { panic!("boom") });
    assert_eq!(task.await, Err(TaskError::Panicked("boom".into())));
}

#[tokio::test]
async fn a_panic_with_a_formatted_message_keeps_it() {
    let guard = Scope::new();
    let task = guard.spawn_named("worker", async { panic!("code {}", 7) });
    assert_eq!(task.await, Err(TaskError::Panicked("code 7".into())));
}

#[tokio::test]
async fn a_panic_is_in_the_outcome_even_if_the_handle_was_dropped() {
    let guard = Scope::new();
    drop(guard.spawn_named("lost", async { panic!("nobody awaited me") }));
    let outcome = guard.join().await.unwrap();
    assert_eq!(outcome.failures.len(), 1);
    let failure = &outcome.failures[0];
    assert_eq!(failure.name.as_deref(), Some("lost"));
    assert_eq!(
        failure.kind,
        FailureKind::Panicked("nobody awaited me".into())
    );
}

type Log = Arc<Mutex<Vec<&'static str>>>;

fn hooks(
    log: &Log,
) -> (
    impl FnOnce() + Send + 'static,
    impl FnOnce() + Send + 'static,
) {
    let (a, b) = (log.clone(), log.clone());
    (
        move || a.lock().unwrap().push("completed"),
        move || b.lock().unwrap().push("cancelled"),
    )
}

#[tokio::test]
async fn hooks_run_on_completion() {
    let log = Log::default();
    let guard = Scope::new();
    let (done, cancelled) = hooks(&log);
    guard
        .spawn_with_hooks(async {}, done, cancelled)
        .await
        .unwrap();
    assert_eq!(*log.lock().unwrap(), ["completed"]);
}

#[tokio::test]
async fn hooks_run_on_cancellation() {
    let log = Log::default();
    let guard = Scope::new();
    let (done, cancelled) = hooks(&log);
    let task = guard.spawn_with_hooks(std::future::pending::<()>(), done, cancelled);
    guard.cancel();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(*log.lock().unwrap(), ["cancelled"]);
}

#[tokio::test]
async fn a_panicking_task_runs_exactly_one_hook_and_still_reports_the_panic() {
    let log = Log::default();
    let guard = Scope::new();
    let (done, cancelled) = hooks(&log);
    let task = guard.spawn_with_hooks(async { panic!("hooked") }, done, cancelled);
    assert_eq!(task.await, Err(TaskError::Panicked("hooked".into())));
    assert_eq!(*log.lock().unwrap(), ["cancelled"]);
    let outcome = guard.join().await.unwrap();
    assert_eq!(outcome.failures.len(), 1);
}

#[tokio::test]
async fn an_aborted_task_runs_the_cancellation_hook() {
    let log = Log::default();
    let guard = Scope::new();
    let (done, cancelled) = hooks(&log);
    let task = guard.spawn_with_hooks(std::future::pending::<()>(), done, cancelled);
    task.abort();
    assert_eq!(task.await, Err(TaskError::Aborted));
    assert_eq!(*log.lock().unwrap(), ["cancelled"]);
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropping");
    }
}

#[tokio::test]
async fn a_task_whose_future_panics_as_it_is_dropped_still_runs_its_hook_and_settles() {
    let log = Log::default();
    let guard = Scope::new();
    let (done, cancelled) = hooks(&log);
    // Moved in: it goes off with the future, polled or not.
    let bomb = PanicsOnDrop;
    let task = guard.spawn_with_hooks(
        async move {
            let _bomb = bomb;
            std::future::pending::<()>().await
        },
        done,
        cancelled,
    );
    guard.cancel();
    // The runtime catches the drop's panic and hands it to the handle.
    assert_eq!(task.await, Err(TaskError::Panicked("dropping".into())));
    assert_eq!(*log.lock().unwrap(), ["cancelled"]);
    assert_eq!(guard.live_tasks(), 0);
    assert!(guard.join().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_hook_is_reported_on_the_handle_and_the_task_still_settles() {
    let guard = Scope::new();
    let completed = guard.spawn_with_hooks(async {}, || panic!("completion hook"), || {});
    assert_eq!(
        completed.await,
        Err(TaskError::Panicked("completion hook".into()))
    );
    let stopped = guard.spawn_with_hooks(
        std::future::pending::<()>(),
        || {},
        || panic!("cancellation hook"),
    );
    stopped.abort();
    assert_eq!(
        stopped.await,
        Err(TaskError::Panicked("cancellation hook".into()))
    );
    assert_eq!(guard.live_tasks(), 0);
    // Bounded: a task that never left the books would hang `join`.
    let joined = tokio::time::timeout(std::time::Duration::from_secs(60), guard.join()).await;
    assert!(joined.expect("join returned").is_ok());
}

#[tokio::test]
async fn a_refused_spawn_runs_the_cancellation_hook() {
    let log = Log::default();
    let guard = Scope::new();
    guard.cancel();
    let (done, cancelled) = hooks(&log);
    let task = guard.spawn_with_hooks(async {}, done, cancelled);
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::Requested(None)))
    );
    assert_eq!(*log.lock().unwrap(), ["cancelled"]);
}

#[tokio::test]
async fn a_panic_does_not_cancel_siblings_by_default() {
    let guard = Scope::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sibling = guard.spawn(async move { rx.await.unwrap() });
    let _ = guard.spawn(async { panic!("one bad task") }).await;
    assert!(!guard.is_cancelled());
    tx.send(()).unwrap();
    sibling.await.unwrap();
}

#[tokio::test]
async fn a_run_whose_future_panics_gets_its_scope_back_and_ends_it_when_dropped() {
    // The guard lends its handle to the current-scope thread-local while the
    // future is polled; a panic in the poll must hand it back.
    let guard = Scope::new();
    let scope = guard.clone();
    let task = guard.spawn(std::future::pending::<()>());
    let mut run = Box::pin(guard.run(async { panic!("in the run") }));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = run.as_mut().poll(&mut cx);
    }));
    assert!(poll.is_err(), "the future panicked");
    assert!(Scope::current().is_none(), "the scope was left");
    assert!(!scope.is_cancelled());
    drop(run);
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
    assert_eq!(task.await, Err(TaskError::Cancelled(CancelReason::Dropped)));
}
