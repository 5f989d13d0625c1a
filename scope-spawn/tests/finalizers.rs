//! Finalizers: async cleanup when a scope ends, after its tasks, LIFO, exactly once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scope_spawn::{FailureKind, Scope};
use tokio::sync::oneshot;

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: &str) -> impl std::future::Future<Output = ()> + Send + 'static {
    let log = log.clone();
    let entry = entry.to_owned();
    async move { log.lock().unwrap().push(entry) }
}

#[tokio::test]
async fn finalizers_run_lifo_after_the_tasks_on_join() {
    let log = Log::default();
    let guard = Scope::new();
    guard.defer(push(&log, "first registered"));
    guard.defer(push(&log, "second registered"));
    let (tx, rx) = oneshot::channel::<()>();
    let task_log = log.clone();
    let _task = guard.spawn(async move {
        rx.await.unwrap();
        task_log.lock().unwrap().push("task".into());
    });
    tx.send(()).unwrap();
    guard.join().await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["task", "second registered", "first registered"]
    );
}

#[tokio::test]
async fn finalizers_run_once_when_the_guard_is_dropped_after_tasks_settle() {
    let log = Log::default();
    let guard = Scope::new();
    let scope = guard.clone();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    guard.defer(push(&log, "cleanup"));
    guard.defer(async move {
        done_tx.send(()).unwrap();
    });
    // A guarded task keeps running after the drop; finalizers wait for it.
    let (release, gate) = oneshot::channel::<()>();
    let task_log = log.clone();
    let guarded = guard.spawn_guarded(async move {
        gate.await.unwrap();
        task_log.lock().unwrap().push("guarded task".into());
    });
    drop(guard);
    assert!(log.lock().unwrap().is_empty());
    release.send(()).unwrap();
    guarded.await.unwrap();
    // `done_tx` is the last registered, so it runs first: wait for the rest.
    done_rx.await.unwrap();
    tokio::task::yield_now().await;
    let scope_ended = async {
        while !scope.is_ended() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), scope_ended)
        .await
        .unwrap();
    assert_eq!(*log.lock().unwrap(), ["guarded task", "cleanup"]);
}

#[tokio::test]
async fn finalizers_run_when_the_scope_was_cancelled() {
    let log = Log::default();
    let guard = Scope::new();
    guard.defer(push(&log, "ran"));
    guard.cancel();
    guard.join().await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["ran"]);
}

#[tokio::test]
async fn finalizers_run_on_shutdown() {
    let log = Log::default();
    let guard = Scope::new();
    guard.defer(push(&log, "flushed"));
    let report = guard.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.total(), 0);
    assert_eq!(*log.lock().unwrap(), ["flushed"]);
}

#[tokio::test]
async fn a_panicking_finalizer_is_reported_and_the_others_still_run() {
    let log = Log::default();
    let guard = Scope::new();
    guard.defer(push(&log, "still ran"));
    guard.defer(async { panic!("finalizer broke") });
    let outcome = guard.join().await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["still ran"]);
    assert_eq!(
        outcome.failures[0].kind,
        FailureKind::Panicked("finalizer broke".into())
    );
}

#[tokio::test]
async fn a_finalizer_registered_by_a_task_after_the_guard_is_gone_still_runs() {
    let guard = Scope::new();
    let scope = guard.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let (ran_tx, ran_rx) = oneshot::channel::<()>();
    let task = scope.spawn_guarded(async move {
        rx.await.unwrap();
        Scope::current().unwrap().defer(async move {
            ran_tx.send(()).unwrap();
        });
    });
    drop(guard);
    tx.send(()).unwrap();
    task.await.unwrap();
    ran_rx.await.unwrap();
}

#[test]
fn a_parent_still_joins_when_a_childs_finalizer_runner_is_dropped_with_its_runtime() {
    let parent = Scope::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let child = parent.child();
        child.defer(async {});
        // The guard's drop hands the finalizer to a runner task on this
        // runtime, which is dropped below before it ever runs.
        drop(child);
    });
    drop(runtime);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), parent.join())
            .await
            .expect("the child ended when its runner was dropped")
            .unwrap();
    });
}

#[tokio::test]
async fn a_finalizer_registered_while_join_runs_the_others_still_runs() {
    let guard = Scope::new();
    let scope = guard.clone();
    let (ran, late) = oneshot::channel();
    guard.defer(async move {
        // `join` has taken the finalizers it runs; this one comes in late.
        scope.defer(async move {
            let _ = ran.send(());
        });
    });
    guard.join().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), late)
        .await
        .expect("the late finalizer ran")
        .expect("the late finalizer was dropped without running");
}
