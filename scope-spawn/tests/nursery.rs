//! `scope_spawn::scope`: the structured block.

use std::future::pending;

use scope_spawn::{FailureKind, Scope, ScopeError};

#[tokio::test]
async fn the_block_returns_after_its_tasks_and_runs_as_current() {
    let out = scope_spawn::scope(|s| async move {
        assert_eq!(Scope::current(), Some(s.clone()));
        let a = s.spawn(async { 1 });
        let b = s.spawn(async { 2 });
        a.await.unwrap() + b.await.unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out, 3);
}

#[tokio::test]
async fn the_first_failure_cancels_the_rest_and_is_returned() {
    let result = scope_spawn::scope(|s| async move {
        let _forever = s.spawn_named("forever", pending::<()>());
        let _broken = s.spawn_named("broken", async { panic!("nursery child failed") });
    })
    .await;
    match result {
        Err(ScopeError::TaskFailed(failure)) => {
            assert_eq!(failure.name.as_deref(), Some("broken"));
            assert_eq!(
                failure.kind,
                FailureKind::Panicked("nursery child failed".into())
            );
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn the_block_is_a_child_of_the_current_scope() {
    let outer = Scope::builder().name("outer").build();
    let parent_name = outer
        .in_scope(scope_spawn::scope(|s| async move {
            s.parent().map(|p| p.name().to_owned())
        }))
        .await
        .unwrap();
    assert_eq!(parent_name.as_deref(), Some("outer"));
}

#[tokio::test]
#[expect(
    clippy::async_yields_async,
    reason = "the block returns the closure's task handle, to await it after the block"
)]
async fn what_the_closure_spawns_before_its_future_belongs_to_the_block_too() {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let returned = scope_spawn::scope(|s| {
        let current = Scope::current().map(|c| c.id());
        // Spawned by the closure itself, before the future runs.
        let waiting = scope_spawn::scope_spawn!(async move {
            let _ = released.await;
        });
        async move {
            assert_eq!(
                current,
                Some(s.id()),
                "the closure runs in the block's scope"
            );
            release.send(()).unwrap();
            waiting
        }
    });
    let waiting = returned.await.unwrap();
    assert!(
        waiting.is_finished(),
        "the block waited for the closure's task"
    );
    assert_eq!(waiting.await, Ok(()));
}
