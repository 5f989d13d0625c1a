//! [`ScopeRun`]: a future that owns a scope's guard and ends the scope with it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::{CancelReason, InScope, ScopeGuard};

pin_project! {
    /// Future for [`ScopeGuard::run`]: runs the inner future with the scope as
    /// [`Scope::current`](crate::Scope::current), then ends the scope — with
    /// [`CancelReason::Completed`] when the future completes, or
    /// [`CancelReason::Dropped`] when it is dropped first.
    #[must_use = "futures do nothing unless polled"]
    pub struct ScopeRun<F> {
        #[pin]
        inner: InScope<F>,
        guard: Option<ScopeGuard>,
    }
}

impl ScopeGuard {
    /// Runs `future` with this scope as [`Scope::current`](crate::Scope::current)
    /// and ends the scope when the future completes (reason
    /// [`CancelReason::Completed`]) or is dropped (reason
    /// [`CancelReason::Dropped`]); guarded tasks go on. This is how a request or
    /// handler owns its scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use scope_spawn::{CancelReason, Scope, TaskError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let guard = Scope::new();
    /// let scope = guard.clone();
    /// let watcher = guard
    ///     .run(async { Scope::current().unwrap().spawn(std::future::pending::<()>()) })
    ///     .await;
    /// assert_eq!(watcher.await, Err(TaskError::Cancelled(CancelReason::Completed)));
    /// assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    /// # }
    /// ```
    pub fn run<F: Future>(self, future: F) -> ScopeRun<F> {
        ScopeRun {
            inner: self.in_scope(future),
            guard: Some(self),
        }
    }
}

impl<F> ScopeRun<F> {
    pub(crate) fn new(inner: InScope<F>, guard: Option<ScopeGuard>) -> Self {
        ScopeRun { inner, guard }
    }
}

impl<F: Future> Future for ScopeRun<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Some(guard) = this.guard.take() {
            guard.end_with(CancelReason::Completed);
        }
        Poll::Ready(out)
    }
}

impl<F> std::fmt::Debug for ScopeRun<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeRun")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}
