//! Policies: how a task's failure affects its scope.

use std::future::pending;

use scope_spawn::{CancelReason, FailureKind, Policy, Scope, ScopeError, TaskError};

#[tokio::test]
async fn supervise_reports_failures_and_lets_siblings_finish() {
    let guard = Scope::builder().policy(Policy::Supervise).build();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sibling = guard.spawn(async move { rx.await.unwrap() });
    let failed = guard.try_spawn(async { Err::<(), _>("bad input") });
    assert_eq!(failed.await, Ok(Err("bad input")));
    assert!(!guard.is_cancelled());
    tx.send(()).unwrap();
    sibling.await.unwrap();
    let outcome = guard.join().await.unwrap();
    assert_eq!(outcome.failures.len(), 1);
    assert_eq!(
        outcome.failures[0].kind,
        FailureKind::Error("bad input".into())
    );
}

#[tokio::test]
async fn fail_fast_cancels_siblings_with_task_failed_and_join_returns_the_error() {
    let guard = Scope::builder().policy(Policy::FailFast).build();
    let sibling = guard.spawn_named("sibling", pending::<()>());
    let failing = guard
        .task()
        .name("fetch")
        .try_spawn(async { Err::<(), _>("503") });
    assert_eq!(failing.await, Ok(Err("503")));
    let expected = CancelReason::TaskFailed {
        task: "fetch".into(),
    };
    assert_eq!(sibling.await, Err(TaskError::Cancelled(expected.clone())));
    assert_eq!(guard.cancel_reason(), Some(expected));
    match guard.join().await {
        Err(ScopeError::TaskFailed(failure)) => {
            assert_eq!(failure.name.as_deref(), Some("fetch"));
            assert_eq!(failure.kind, FailureKind::Error("503".into()));
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn fail_fast_treats_a_panic_as_a_failure() {
    let guard = Scope::builder().policy(Policy::FailFast).build();
    let sibling = guard.spawn(pending::<()>());
    let _ = guard.spawn(async { panic!("kaboom") }).await;
    let reason = sibling.await.unwrap_err();
    assert!(matches!(
        reason,
        TaskError::Cancelled(CancelReason::TaskFailed { .. })
    ));
    let err = guard.join().await.unwrap_err();
    assert_eq!(
        err.failures()[0].kind,
        FailureKind::Panicked("kaboom".into())
    );
}

#[tokio::test]
async fn fail_fast_unnamed_task_is_labelled_by_id() {
    let guard = Scope::builder().policy(Policy::FailFast).build();
    let task = guard.try_spawn(async { Err::<(), _>("x") });
    let id = task.id();
    task.await.unwrap().unwrap_err();
    assert_eq!(
        guard.cancel_reason(),
        Some(CancelReason::TaskFailed {
            task: format!("task#{id}").into()
        })
    );
}

#[tokio::test]
async fn collect_all_returns_every_failure_in_order() {
    let guard = Scope::builder().policy(Policy::CollectAll).build();
    for i in 0..3 {
        let task = guard.task().name(format!("job-{i}")).try_spawn(async move {
            if i == 1 {
                Ok(())
            } else {
                Err(format!("job {i} failed"))
            }
        });
        let _ = task.await;
    }
    assert!(!guard.is_cancelled());
    match guard.join().await {
        Err(ScopeError::Failures(failures)) => {
            let names: Vec<_> = failures
                .iter()
                .map(|f| f.name.as_deref().unwrap())
                .collect();
            assert_eq!(names, ["job-0", "job-2"]);
        }
        other => panic!("expected Failures, got {other:?}"),
    }
}

#[tokio::test]
async fn collect_all_without_failures_joins_ok() {
    let guard = Scope::builder().policy(Policy::CollectAll).build();
    guard.spawn(async {}).await.unwrap();
    assert!(guard.join().await.unwrap().failures.is_empty());
}
