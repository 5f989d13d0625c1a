//! Misuse at run time gets an error or a documented result: never a hang, never
//! a lost panic. (More cases live with their topic: spawning into cancelled,
//! ended and shut-down scopes in `cancel.rs` and `shutdown.rs`; zero and
//! overflowing timeouts in `timeout.rs`; a zero limit and a full queue in
//! `limit.rs`; a panicking blocking closure in `blocking.rs`; `Scope::current()`
//! outside a runtime in `context.rs`.)

use std::time::Duration;

use scope_spawn::{CancelReason, Scope, TaskError};

#[test]
#[should_panic(expected = "Tokio 1.x runtime")]
fn spawning_outside_a_runtime_panics_naming_the_cause() {
    let guard = Scope::new();
    drop(guard.spawn(async {}));
}

#[test]
fn a_spawn_that_panicked_for_want_of_a_runtime_leaves_nothing_behind() {
    let guard = Scope::new();
    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(guard.spawn(async {}));
    }));
    assert!(spawned.is_err());
    assert_eq!(guard.live_tasks(), 0);
    assert!(guard.snapshot().tasks.is_empty());
}

#[test]
fn a_guard_dropped_outside_a_runtime_still_cancels() {
    let guard = Scope::new();
    let scope = guard.clone();
    guard.defer(async {}); // cannot run without a runtime: dropped, with a warning
    drop(guard);
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
    assert!(scope.is_ended());
}

#[tokio::test]
async fn joining_a_scope_that_was_cancelled_returns_its_reason() {
    let guard = Scope::new();
    guard.cancel_with(CancelReason::requested("maintenance"));
    let outcome = guard.join().await.unwrap();
    assert_eq!(
        outcome.cancel_reason,
        Some(CancelReason::Requested(Some("maintenance".into())))
    );
}

#[tokio::test(start_paused = true)]
async fn shutting_down_a_child_twice_over_through_its_parent_is_harmless() {
    let root = Scope::new();
    let child = root.child();
    let task = child.spawn(std::future::pending::<()>());
    let child_report = child.shutdown(Duration::from_millis(10)).await;
    assert_eq!(child_report.cancelled, 1);
    let root_report = root.shutdown(Duration::from_millis(10)).await;
    assert_eq!(root_report.total(), 0);
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::Shutdown))
    );
}

#[tokio::test]
async fn a_task_joining_its_own_scope_is_cancelled_not_deadlocked_when_the_scope_is() {
    // A task that awaits its own scope's `cancelled()` is woken by the cancel.
    let guard = Scope::new();
    let task = guard.spawn(async {
        Scope::current().unwrap().cancelled().await;
        "never returned: the task is stopped first"
    });
    guard.cancel();
    assert!(task.await.unwrap_err().is_cancelled());
}
