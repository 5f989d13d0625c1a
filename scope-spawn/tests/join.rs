//! `join`: wait for every task and child scope, including late spawns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scope_spawn::{CancelReason, Scope};
use tokio::sync::oneshot;

#[tokio::test]
async fn join_waits_for_tasks_spawned_while_it_waits() {
    let guard = Scope::new();
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel::<()>();
    let counter = done.clone();
    let _spawner = guard.spawn(async move {
        rx.await.unwrap();
        let scope = Scope::current().unwrap();
        for _ in 0..10 {
            let counter = counter.clone();
            let _child = scope.spawn(async move {
                tokio::task::yield_now().await;
                counter.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    let scope = guard.clone();
    let join = tokio::spawn(guard.join());
    tokio::task::yield_now().await;
    tx.send(()).unwrap();
    let outcome = join.await.unwrap().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 10);
    assert_eq!(outcome.cancel_reason, None);
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    assert_eq!(scope.live_tasks(), 0);
}

#[tokio::test]
async fn join_waits_for_child_scopes_and_their_tasks() {
    let parent = Scope::new();
    let child = parent.child();
    let (tx, rx) = oneshot::channel::<()>();
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    let _guarded = child.spawn_guarded(async move {
        rx.await.unwrap();
        counter.fetch_add(1, Ordering::SeqCst);
    });
    drop(child); // the child's guarded task still runs
    let join = tokio::spawn(parent.join());
    tokio::task::yield_now().await;
    assert!(!join.is_finished());
    tx.send(()).unwrap();
    join.await.unwrap().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn live_tasks_counts_the_whole_subtree_and_returns_to_zero() {
    let root = Scope::new();
    let child = root.child();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for scope in [&*root, &*child, &*child] {
        let mut rx = rx.clone();
        handles.push(scope.spawn(async move {
            rx.wait_for(|go| *go).await.unwrap();
        }));
    }
    assert_eq!(root.live_tasks(), 3);
    assert_eq!(child.live_tasks(), 2);
    tx.send(true).unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(root.live_tasks(), 0);
}

#[tokio::test]
async fn a_child_joins_the_tree_with_its_first_task_and_leaves_when_it_ends() {
    let root = Scope::new();
    let child = root.child();
    assert!(
        root.snapshot().children.is_empty(),
        "an idle child costs its parent nothing"
    );
    let task = child.spawn(std::future::pending::<()>());
    assert_eq!(root.snapshot().children.len(), 1);
    drop(child);
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(root.snapshot().children.is_empty());
}

#[tokio::test]
async fn an_idle_child_does_not_hold_up_its_parents_join() {
    let parent = Scope::new();
    let idle = parent.child();
    parent.join().await.unwrap();
    assert_eq!(idle.cancel_reason(), Some(CancelReason::ParentCancelled));
    assert!(idle.spawn(async {}).await.unwrap_err().is_cancelled());
}
