//! [`ScopeRun`]: a future that owns a scope's guard and ends the scope with it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::{CancelReason, Scope, ScopeGuard, current};

pin_project! {
    /// Future for [`ScopeGuard::run`]: runs the inner future with the scope as
    /// [`Scope::current`](crate::Scope::current), then ends the scope — with
    /// [`CancelReason::Completed`] when the future completes, or
    /// [`CancelReason::Dropped`] when it is dropped first. (What `#[scoped]`
    /// expands to also runs a handler in its request's scope with it, which
    /// it then leaves alone: the request owns that scope.)
    #[must_use = "futures do nothing unless polled"]
    pub struct ScopeRun<F> {
        // `None` once it has completed (or been dropped, see `PinnedDrop`).
        #[pin]
        inner: Option<F>,
        // The scope is entered with the guard's own handle when the run owns
        // it, else with `scope` (a handler run in its request's scope).
        guard: Option<ScopeGuard>,
        scope: Option<Scope>,
    }

    impl<F> PinnedDrop for ScopeRun<F> {
        // The inner future goes in the scope, before the guard ends it.
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut inner = this.inner;
            if inner.is_some() {
                enter(this.guard, this.scope, || inner.set(None));
            }
        }
    }
}

/// Runs `f` in the scope of a run: lent by its guard, or from its handle.
/// A run within a scope that is lent to the thread already — a handler run
/// in its request's scope, inside the tower layer's response future, which
/// lent it — runs `f` as it is.
fn enter<R>(guard: &mut Option<ScopeGuard>, scope: &mut Option<Scope>, f: impl FnOnce() -> R) -> R {
    match guard {
        Some(guard) => guard.enter(f),
        None if scope.as_ref().is_some_and(current::is_lent) => f(),
        None => current::enter(scope, f),
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
        ScopeRun::owned(self, future)
    }
}

impl<F> ScopeRun<F> {
    /// A run that owns its scope: it ends it.
    pub(crate) fn owned(guard: ScopeGuard, future: F) -> Self {
        ScopeRun {
            inner: Some(future),
            guard: Some(guard),
            scope: None,
        }
    }

    /// A run in a scope that it does not own.
    pub(crate) fn within(scope: Scope, future: F) -> Self {
        ScopeRun {
            inner: Some(future),
            guard: None,
            scope: Some(scope),
        }
    }
}

impl<F: Future> ScopeRun<F> {
    /// Polls the run like the future does, but at completion keeps its guard
    /// (take it with [`take_guard`](Self::take_guard)) instead of ending the
    /// scope: for the tower layer, whose request scope may live on in the
    /// response body. The output is handed on as it is, not wrapped with
    /// the guard: each wrapping would copy the response once more. Not
    /// public API.
    #[doc(hidden)]
    #[inline]
    pub fn poll_run(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let poll = enter(this.guard, this.scope, || {
            current::poll_once(inner.as_mut(), cx, "scope-spawn: ScopeRun")
        });
        if poll.is_ready() {
            *this.scope = None;
        }
        poll
    }

    /// The run's guard, once [`poll_run`](Self::poll_run) is ready: `None`
    /// for a run in a scope it does not own, or if taken before. Not public
    /// API.
    #[doc(hidden)]
    #[inline]
    pub fn take_guard(self: Pin<&mut Self>) -> Option<ScopeGuard> {
        self.project().guard.take()
    }
}

impl<F: Future> Future for ScopeRun<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = std::task::ready!(self.as_mut().poll_run(cx));
        if let Some(guard) = self.take_guard() {
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
