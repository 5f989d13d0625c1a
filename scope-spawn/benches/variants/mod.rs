//! Case 1's variants, shared by `instructions.rs` (counted) and
//! `spawn_paired.rs` (timed in pairs): spawn `n` trivial tasks, then await
//! every one, in a batch.

use scope_spawn::Scope;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The variants, each against the same baselines as case 1.
pub const VARIANTS: [&str; 5] = [
    "tokio_spawn",
    "join_set",
    "task_tracker_token",
    "scope_spawn_0_1",
    "scope_spawn",
];

/// Spawns `n` tasks returning `0..n` with `variant`, awaits them all in
/// order, and returns the sum of their outputs.
///
/// # Panics
///
/// On an unknown variant.
pub async fn spawn_and_await(variant: &str, n: usize) -> usize {
    let mut sum = 0;
    match variant {
        "tokio_spawn" => {
            let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
            for handle in handles {
                sum += handle.await.unwrap();
            }
        }
        "join_set" => {
            let mut set = JoinSet::new();
            for i in 0..n {
                set.spawn(async move { i });
            }
            while let Some(out) = set.join_next().await {
                sum += out.unwrap();
            }
        }
        "task_tracker_token" => {
            let (tracker, token) = (TaskTracker::new(), CancellationToken::new());
            let handles: Vec<_> = (0..n)
                .map(|i| tracker.spawn(token.clone().run_until_cancelled_owned(async move { i })))
                .collect();
            for handle in handles {
                sum += handle.await.unwrap().unwrap();
            }
        }
        "scope_spawn_0_1" => {
            let scope = scope_spawn_0_1::scope::Scope::new();
            let handles: Vec<_> = (0..n).map(|i| scope.spawn(async move { i })).collect();
            for handle in handles {
                sum += handle.await.unwrap().unwrap();
            }
        }
        "scope_spawn" => {
            let scope = Scope::new();
            let handles: Vec<_> = (0..n).map(|i| scope.spawn(async move { i })).collect();
            for handle in handles {
                sum += handle.await.unwrap();
            }
        }
        other => panic!("unknown variant {other:?}; one of {VARIANTS:?}"),
    }
    sum
}
