//! Scope deadlines and task timeouts, on tokio's paused clock.

use std::future::pending;
use std::time::Duration;

use scope_spawn::{CancelReason, Scope, TaskError};
use tokio::time::Instant;

/// Paused time jumps to the timer, which tokio rounds up to the millisecond.
fn assert_close(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed <= expected + Duration::from_millis(2),
        "elapsed {elapsed:?}, expected {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_scope_timeout_cancels_with_deadline_exceeded() {
    let start = Instant::now();
    let guard = Scope::builder().timeout(Duration::from_secs(2)).build();
    assert_eq!(guard.deadline(), Some(start + Duration::from_secs(2)));
    let task = guard.spawn(pending::<()>());
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::DeadlineExceeded))
    );
    assert_close(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_task_timeout_times_out_only_that_task() {
    let guard = Scope::new();
    let slow = guard
        .task()
        .name("slow")
        .timeout(Duration::from_millis(250))
        .spawn(pending::<()>());
    assert_eq!(slow.await, Err(TaskError::TimedOut));
    assert!(!guard.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_task_that_beats_its_timeout_completes() {
    let guard = Scope::new();
    let quick = guard.task().timeout(Duration::from_secs(1)).spawn(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        "in time"
    });
    assert_eq!(quick.await, Ok("in time"));
}

#[tokio::test(start_paused = true)]
async fn the_effective_deadline_is_the_earliest_of_the_ancestors() {
    let start = Instant::now();
    let parent = Scope::builder().timeout(Duration::from_secs(1)).build();
    let child = Scope::builder()
        .parent(&parent)
        .timeout(Duration::from_secs(10))
        .build();
    let grandchild = child.child();
    assert_eq!(grandchild.deadline(), Some(start + Duration::from_secs(1)));
    let task = grandchild.spawn(pending::<()>());
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::ParentCancelled))
    );
    assert_eq!(parent.cancel_reason(), Some(CancelReason::DeadlineExceeded));
    assert_close(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_child_deadline_earlier_than_its_parents_is_its_own() {
    let parent = Scope::builder().timeout(Duration::from_secs(10)).build();
    let child = Scope::builder()
        .parent(&parent)
        .timeout(Duration::from_secs(1))
        .build();
    let task = child.spawn(pending::<()>());
    assert_eq!(
        task.await,
        Err(TaskError::Cancelled(CancelReason::DeadlineExceeded))
    );
    assert!(!parent.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn an_overflowing_timeout_means_no_deadline() {
    let guard = Scope::builder().timeout(Duration::MAX).build();
    assert_eq!(guard.deadline(), None);
    let task = guard.task().timeout(Duration::MAX).spawn(async { 1 });
    assert_eq!(task.await, Ok(1));
}

#[test]
#[should_panic(expected = "a scope timeout must be greater than zero")]
fn a_zero_scope_timeout_is_rejected() {
    let _ = Scope::builder().timeout(Duration::ZERO);
}

#[tokio::test]
#[should_panic(expected = "a task timeout must be greater than zero")]
async fn a_zero_task_timeout_is_rejected() {
    let guard = Scope::new();
    let _ = guard.task().timeout(Duration::ZERO);
}

#[test]
fn a_scope_with_a_timeout_can_be_built_outside_a_runtime_and_armed_inside_one() {
    let guard = Scope::builder().timeout(Duration::from_millis(20)).build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let task = guard.spawn(pending::<()>());
        assert_eq!(
            task.await,
            Err(TaskError::Cancelled(CancelReason::DeadlineExceeded))
        );
    });
}

#[tokio::test(start_paused = true)]
async fn an_unused_scope_past_its_deadline_reports_it_without_a_timer() {
    let parent = Scope::builder().timeout(Duration::from_secs(1)).build();
    let child = parent.child();
    tokio::time::advance(Duration::from_secs(2)).await;
    // Nobody spawned or waited, so no timer was armed; the check is on read.
    assert!(child.is_cancelled());
    assert_eq!(child.cancel_reason(), Some(CancelReason::ParentCancelled));
    assert_eq!(parent.cancel_reason(), Some(CancelReason::DeadlineExceeded));
}
