//! `spawn_blocking`: tracked closures on tokio's blocking pool.

use scope_spawn::{Scope, TaskError};
use tokio::sync::oneshot;

#[tokio::test]
async fn a_blocking_closure_sees_its_scope_and_can_check_cancellation() {
    let guard = Scope::builder().name("blocking").build();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = oneshot::channel();
    let task = guard.spawn_blocking(move || {
        let scope = Scope::current().expect("blocking closures run in their scope");
        started_tx.send(scope.name().to_owned()).unwrap();
        rx.recv().unwrap();
        scope.is_cancelled()
    });
    assert_eq!(started_rx.await.unwrap(), "blocking");
    assert_eq!(guard.live_tasks(), 1);
    guard.cancel();
    tx.send(()).unwrap();
    assert_eq!(task.await, Ok(true), "not interrupted, but saw the cancel");
    assert_eq!(guard.live_tasks(), 0);
}

#[tokio::test]
async fn a_panicking_blocking_closure_is_reported() {
    let guard = Scope::new();
    let task = guard.spawn_blocking(|| panic!("blocking boom"));
    assert_eq!(task.await, Err(TaskError::Panicked("blocking boom".into())));
    let outcome = guard.join().await.unwrap();
    assert_eq!(outcome.failures.len(), 1);
}

#[tokio::test]
async fn blocking_closures_respect_the_limit() {
    let guard = Scope::builder().limit(1).build();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let first = guard.spawn_blocking(move || rx.recv().unwrap());
    let second = guard.task().name("second").spawn_blocking(|| "second ran");
    tokio::task::yield_now().await;
    assert!(!second.is_finished());
    tx.send(()).unwrap();
    first.await.unwrap();
    assert_eq!(second.await, Ok("second ran"));
}

#[tokio::test]
async fn join_waits_for_blocking_closures() {
    let guard = Scope::new();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    drop(guard.spawn_blocking(move || {
        rx.recv().unwrap();
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    }));
    tx.send(()).unwrap();
    guard.join().await.unwrap();
    assert!(done.load(std::sync::atomic::Ordering::SeqCst));
}
