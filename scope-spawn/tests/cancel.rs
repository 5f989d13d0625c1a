//! Ownership and cancellation: who cancels, and why.

use std::future::pending;

use scope_spawn::{CancelReason, Scope, TaskError};
use tokio::sync::oneshot;

#[tokio::test]
async fn dropping_the_guard_cancels_its_tasks_with_reason_dropped() {
    let guard = Scope::new();
    let task = guard.spawn(pending::<()>());
    let scope = guard.clone();
    drop(guard);
    assert_eq!(task.await, Err(TaskError::Cancelled(CancelReason::Dropped)));
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
}

#[tokio::test]
async fn end_with_cancels_with_its_reason_and_lets_go_of_the_guard() {
    let guard = Scope::new();
    let task = guard.spawn(pending::<()>());
    let guarded = guard.spawn_guarded(async { 7 });
    let scope = guard.clone();
    guard.end_with(CancelReason::Completed);
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    assert_eq!(guarded.await, Ok(7), "guarded tasks go on");
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    assert!(scope.is_ended(), "the guard's keeper was given back");
}

#[tokio::test]
async fn a_child_that_nobody_else_holds_still_cancels_the_tokens_it_gave_out() {
    // The guard is the scope's only handle, but the token can still be read:
    // ending it must cancel the token, by drop and by `end_with` alike.
    let root = Scope::new();
    let child = root.child();
    let token = child.token();
    drop(child);
    assert!(token.is_cancelled());

    let child = root.child();
    let waiter = child.cancelled();
    child.end_with(CancelReason::Completed);
    waiter.await;
}

#[tokio::test]
async fn a_child_that_nobody_else_holds_still_runs_its_finalizers() {
    let root = Scope::new();
    let child = root.child();
    let (ran, ran_rx) = oneshot::channel();
    child.defer(async move {
        let _ = ran.send(());
    });
    child.end_with(CancelReason::Completed);
    ran_rx.await.expect("the finalizer ran");
    root.join().await.unwrap();
}

#[tokio::test]
async fn dropping_a_handle_clone_cancels_nothing() {
    let guard = Scope::new();
    let (tx, rx) = oneshot::channel::<u32>();
    let task = guard.spawn(async move { rx.await.unwrap() });
    let clone = guard.clone();
    drop(clone);
    assert!(!guard.is_cancelled());
    tx.send(7).unwrap();
    assert_eq!(task.await, Ok(7));
}

#[tokio::test]
async fn a_task_that_captured_a_scope_clone_does_not_cancel_its_siblings_when_it_ends() {
    let guard = Scope::new();
    let sibling = guard.spawn(async {
        tokio::task::yield_now().await;
        "sibling done"
    });
    let captured = guard.clone();
    let first = guard.spawn(async move {
        let _mine = captured; // dropped when this task ends
    });
    first.await.unwrap();
    assert!(!guard.is_cancelled());
    assert_eq!(sibling.await, Ok("sibling done"));
}

#[tokio::test]
async fn a_task_that_captured_a_scope_clone_does_not_keep_the_scope_alive() {
    let guard = Scope::new();
    let captured = guard.clone();
    let task = guard.spawn(async move {
        let _keep = captured;
        pending::<()>().await
    });
    drop(guard);
    assert_eq!(task.await, Err(TaskError::Cancelled(CancelReason::Dropped)));
}

#[tokio::test]
async fn the_first_cancel_reason_wins() {
    let guard = Scope::new();
    guard.cancel_with(CancelReason::requested("first"));
    guard.cancel_with(CancelReason::Shutdown);
    guard.cancel();
    assert_eq!(
        guard.cancel_reason(),
        Some(CancelReason::Requested(Some("first".into())))
    );
    let scope = guard.clone();
    drop(guard);
    assert_eq!(
        scope.cancel_reason(),
        Some(CancelReason::Requested(Some("first".into())))
    );
}

#[tokio::test]
async fn cancel_without_a_message_is_requested_none() {
    let guard = Scope::new();
    let task = guard.spawn(pending::<()>());
    guard.cancel();
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::Requested(None)))
    );
    assert!(guard.is_cancelled());
}

#[tokio::test]
async fn a_task_stopped_by_a_cancel_with_a_message_reports_the_message() {
    let guard = Scope::new();
    let task = guard.spawn(pending::<()>());
    let named = guard.spawn_named("waiter", pending::<()>());
    tokio::task::yield_now().await;
    guard.cancel_with(CancelReason::requested(format!("maintenance {}", 7)));
    let expected = Err(TaskError::Cancelled(CancelReason::Requested(Some(
        "maintenance 7".into(),
    ))));
    assert_eq!(task.await, expected);
    assert_eq!(named.await, expected);
}

#[tokio::test]
async fn a_child_is_cancelled_with_its_parent_and_says_so() {
    let parent = Scope::new();
    let child = parent.child();
    let grandchild = child.child();
    let task = grandchild.spawn(pending::<()>());
    parent.cancel_with(CancelReason::requested("bye"));
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::ParentCancelled))
    );
    assert_eq!(child.cancel_reason(), Some(CancelReason::ParentCancelled));
    assert_eq!(
        parent.cancel_reason(),
        Some(CancelReason::Requested(Some("bye".into())))
    );
}

#[tokio::test]
async fn cancelling_a_child_leaves_the_parent_running() {
    let parent = Scope::new();
    let child = parent.child();
    child.cancel();
    assert!(child.is_cancelled());
    assert!(!parent.is_cancelled());
    assert_eq!(parent.spawn(async { 1 }).await, Ok(1));
}

#[tokio::test]
async fn spawning_into_a_cancelled_scope_resolves_to_cancelled_at_once() {
    let guard = Scope::new();
    guard.cancel_with(CancelReason::Shutdown);
    let task = guard.spawn(async { unreachable!("never runs") });
    assert!(task.is_finished());
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::Shutdown))
    );
    assert_eq!(guard.live_tasks(), 0);
}

#[tokio::test]
async fn spawning_into_an_ended_scope_resolves_to_cancelled() {
    let guard = Scope::new();
    let scope = guard.clone();
    guard.join().await.unwrap();
    assert!(scope.is_ended());
    let task = scope.spawn(async {});
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    let guarded = scope.spawn_guarded(async {});
    assert!(guarded.await.unwrap_err().is_cancelled());
}

#[tokio::test]
async fn the_token_is_cancelled_with_the_scope_but_cannot_cancel_it() {
    let guard = Scope::new();
    let token = guard.token();
    token.cancel();
    assert!(!guard.is_cancelled(), "a token handed out is a child token");
    let token = guard.token();
    guard.cancel();
    token.cancelled().await;
}

#[tokio::test]
async fn cancelled_future_resolves_on_cancel() {
    let guard = Scope::new();
    let waiter = guard.cancelled();
    let scope = guard.clone();
    tokio::spawn(async move { scope.cancel() });
    waiter.await;
    assert!(guard.is_cancelled());
}

#[tokio::test]
async fn a_task_can_drop_its_own_scope_guard() {
    let guard = Scope::new();
    let scope = guard.clone();
    let (tx, rx) = oneshot::channel();
    let sibling = scope.spawn(pending::<()>());
    let dropper = scope.spawn(async move {
        drop(guard);
        tx.send(()).unwrap();
    });
    rx.await.unwrap();
    assert_eq!(
        sibling.await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
    // The dropping task ran to completion within the poll that dropped the guard.
    assert_eq!(dropper.await, Ok(()));
}

#[tokio::test]
async fn aborting_a_handle_stops_the_task() {
    let guard = Scope::new();
    let task = guard.spawn(pending::<()>());
    task.abort();
    assert_eq!(task.await, Err(TaskError::Aborted));
    assert_eq!(guard.live_tasks(), 0);
    assert!(!guard.is_cancelled());
}

#[tokio::test]
async fn dropping_a_task_handle_detaches_it_only() {
    let guard = Scope::new();
    let (tx, rx) = oneshot::channel();
    drop(guard.spawn(async move { tx.send("still ran").unwrap() }));
    assert_eq!(rx.await, Ok("still ran"));
}

#[tokio::test]
async fn a_child_of_an_ended_scope_is_born_ended_and_refuses_every_spawn() {
    let parent = Scope::new();
    let handle = parent.clone();
    drop(parent);
    assert!(handle.is_ended());
    let child = handle.child();
    assert!(child.is_ended());
    assert_eq!(child.cancel_reason(), Some(CancelReason::ParentCancelled));
    let guarded = child.spawn_guarded(async {});
    assert!(guarded.is_finished());
    assert!(guarded.await.unwrap_err().is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_other_threads_did_with_a_handle_they_dropped_is_seen_when_the_guard_ends() {
    // The guard ends once it holds the only handle: whatever the other
    // threads' handles made of the scope (a token, a finalizer, a task)
    // before they went must still be seen, so that it ends the full way.
    let root = Scope::new();
    for round in 0..200 {
        let child = root.child();
        let handle = child.clone();
        let (ran, ran_rx) = oneshot::channel();
        let made = tokio::spawn(async move {
            match round % 3 {
                0 => {
                    let token = handle.token();
                    drop(handle);
                    Made::Token(token)
                }
                1 => {
                    handle.defer(async move {
                        let _ = ran.send(());
                    });
                    Made::Nothing
                }
                _ => Made::Task(handle.spawn(pending::<()>())),
            }
        })
        .await
        .unwrap();
        child.end_with(CancelReason::Completed);
        match made {
            Made::Token(token) => assert!(token.is_cancelled(), "round {round}: token"),
            Made::Task(task) => assert_eq!(
                task.await,
                Err(TaskError::Cancelled(CancelReason::Completed)),
                "round {round}: task"
            ),
            Made::Nothing => ran_rx.await.expect("the finalizer ran"),
        }
    }
    root.join().await.unwrap();
}

enum Made {
    Token(tokio_util::sync::CancellationToken),
    Task(scope_spawn::TaskHandle<()>),
    Nothing,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_child_that_ends_while_its_parent_is_cancelled_or_walked_leaves_it_once() {
    // A used child whose guard holds the only handle just ends and leaves its
    // parent; meanwhile the parent's cancellation, snapshot or count walks to
    // it through the parent's list on another thread, released by the same
    // barrier as the end.
    for round in 0..1_000 {
        let root = Scope::new();
        let child = root.child();
        child.spawn(async {}).await.unwrap();
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|threads| {
            threads.spawn(|| {
                barrier.wait();
                match round % 3 {
                    0 => root.cancel(),
                    1 => drop(root.snapshot()),
                    // The child's one task settled before the race.
                    _ => assert_eq!(root.live_tasks(), 0),
                }
            });
            barrier.wait();
            drop(child);
        });
        assert_eq!(root.live_tasks(), 0, "round {round}");
        tokio::time::timeout(std::time::Duration::from_secs(10), root.join())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the root's join hangs"))
            .unwrap_or_else(|err| panic!("round {round}: {err:?}"));
    }
}
