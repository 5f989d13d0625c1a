//! `limit(n)`: at most n tasks run at once; extra tasks queue in spawn order.

use std::sync::{Arc, Mutex};

use scope_spawn::{CancelReason, Scope, TaskError, TaskState};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_tasks_start_in_spawn_order() {
    let guard = Scope::builder().limit(1).build();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (release, gate) = oneshot::channel::<()>();
    let first = guard.spawn(async move { gate.await.unwrap() });
    let mut handles = Vec::new();
    for i in 0..20 {
        let order = order.clone();
        handles.push(guard.spawn(async move { order.lock().unwrap().push(i) }));
    }
    assert!(
        order.lock().unwrap().is_empty(),
        "all queued behind the first"
    );
    release.send(()).unwrap();
    first.await.unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
}

#[tokio::test]
async fn at_most_limit_tasks_run_at_once() {
    let guard = Scope::builder().limit(2).build();
    let mut releases = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..5 {
        let (tx, rx) = oneshot::channel::<()>();
        releases.push(tx);
        handles.push(guard.spawn(async move { rx.await.unwrap() }));
    }
    tokio::task::yield_now().await;
    let states = |g: &Scope| {
        let snap = g.snapshot();
        let running = snap
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Running)
            .count();
        let queued = snap
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Queued)
            .count();
        (running, queued)
    };
    assert_eq!(states(&guard), (2, 3));
    for tx in releases {
        tx.send(()).unwrap();
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(guard.live_tasks(), 0);
}

#[tokio::test]
async fn a_cancelled_scope_settles_queued_tasks_without_running_them() {
    let guard = Scope::builder().limit(1).build();
    let ran = Arc::new(Mutex::new(0));
    let blocker = guard.spawn(std::future::pending::<()>());
    let queued: Vec<_> = (0..3)
        .map(|_| {
            let ran = ran.clone();
            guard.spawn(async move { *ran.lock().unwrap() += 1 })
        })
        .collect();
    guard.cancel();
    assert!(blocker.await.unwrap_err().is_cancelled());
    for task in queued {
        assert_eq!(
            task.await,
            Err(TaskError::Cancelled(CancelReason::Requested(None)))
        );
    }
    assert_eq!(*ran.lock().unwrap(), 0);
    assert_eq!(guard.live_tasks(), 0);
}

#[tokio::test]
async fn an_aborted_queued_task_gives_its_slot_on() {
    let guard = Scope::builder().limit(1).build();
    let (release, gate) = oneshot::channel::<()>();
    let first = guard.spawn(async move { gate.await.unwrap() });
    let second = guard.spawn(async { "second" });
    let third = guard.spawn(async { "third" });
    second.abort();
    release.send(()).unwrap();
    first.await.unwrap();
    assert_eq!(second.await, Err(TaskError::Aborted));
    assert_eq!(third.await, Ok("third"));
}

#[test]
#[should_panic(expected = "a scope limit must be at least 1")]
fn a_zero_limit_is_rejected_by_the_builder() {
    let _ = Scope::builder().limit(0);
}

#[tokio::test]
async fn a_full_queue_refuses_spawns_at_once() {
    let guard = Scope::builder().limit(1).queue_limit(2).build();
    let running = guard.spawn(std::future::pending::<()>());
    let queued: Vec<_> = (0..2)
        .map(|_| guard.spawn(std::future::pending::<()>()))
        .collect();
    let refused = guard.spawn(async { unreachable!("never runs") });
    assert!(refused.is_finished());
    assert_eq!(refused.await, Err(TaskError::QueueFull));
    assert_eq!(guard.live_tasks(), 3);
    // A slot frees up: the queue has room again.
    running.abort();
    let _ = running.await;
    let accepted = guard.spawn(std::future::pending::<()>());
    assert!(!accepted.is_finished());
    drop(queued);
}

#[tokio::test(start_paused = true)]
async fn a_task_timeout_counts_from_when_the_task_starts_not_from_its_spawn() {
    let guard = Scope::builder().limit(1).build();
    let first = guard.spawn(tokio::time::sleep(std::time::Duration::from_secs(5)));
    let queued = guard
        .task()
        .timeout(std::time::Duration::from_secs(1))
        .spawn(tokio::time::sleep(std::time::Duration::from_millis(500)));
    first.await.unwrap();
    // Waited 5 s for its slot, then ran 0.5 s of its 1 s budget.
    assert_eq!(queued.await, Ok(()));
}
