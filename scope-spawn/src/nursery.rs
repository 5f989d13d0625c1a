//! The structured block: [`scope`].

use std::future::Future;

use crate::{Policy, Scope, ScopeError};

/// Runs `body` with a fresh child scope of the current one (or of
/// [`Scope::global`]) and returns when the body **and every task spawned into
/// the scope** are done — the nursery form of structured concurrency, usable
/// anywhere, not only in handlers.
///
/// The scope is fail-fast, like a nursery: the first task failure (a panic, or
/// the `Err` of a `try_spawn` task) cancels the other tasks and is returned as
/// [`ScopeError::TaskFailed`]. The body — the closure and the future it
/// returns — runs with the scope as [`Scope::current`], so the `scope_spawn!`
/// family spawns into it.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let done = Arc::new(AtomicUsize::new(0));
/// let total = scope_spawn::scope(|s| {
///     let done = done.clone();
///     async move {
///         for _ in 0..3 {
///             let done = done.clone();
///             s.spawn(async move { done.fetch_add(1, Ordering::SeqCst); });
///         }
///         "spawned"
///     }
/// })
/// .await
/// .unwrap();
/// assert_eq!(total, "spawned");
/// assert_eq!(done.load(Ordering::SeqCst), 3); // every task finished first
/// # }
/// ```
///
/// Like [`ScopeGuard::join`](crate::ScopeGuard::join), the block also waits
/// for every child scope that was used (had a task or a finalizer) until its
/// guard is dropped or joined. So end or join a child inside the body: a
/// used child's guard *returned* from the body would keep the block waiting
/// on a guard that only its caller, once the block returns, could drop.
///
/// # Cancel safety
///
/// Dropping the returned future cancels the scope (reason
/// [`CancelReason::Dropped`](crate::CancelReason::Dropped)).
pub async fn scope<F, Fut>(body: F) -> Result<Fut::Output, ScopeError>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    let parent = Scope::current().unwrap_or_else(Scope::global);
    let guard = Scope::builder()
        .name("scope")
        .parent(&parent)
        .policy(Policy::FailFast)
        .build();
    // The closure is called in the scope too: what it spawns before it
    // returns its future belongs to the scope as well.
    let output = guard.in_scope_with(|| body(Scope::clone(&guard))).await;
    guard.join().await.map(|_| output)
}
