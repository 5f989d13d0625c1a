//! [`ResponseFuture`]: the inner service's future, run in the request scope.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;
use scope_spawn::{CancelReason, InScope, ScopeGuard};

use crate::ScopeBody;

pin_project! {
    /// Response future for [`ScopeSpawnService`](crate::ScopeSpawnService).
    ///
    /// Polls the inner service's future with the request scope as
    /// [`Scope::current`](scope_spawn::Scope::current), and owns the scope's
    /// guard until the response is ready: then it ends the scope with
    /// [`CancelReason::Completed`] (also when the inner service returned an
    /// error), or, in [`until_body_end`](crate::ScopeSpawnLayer::until_body_end)
    /// mode, hands the guard to the [`ScopeBody`]. Dropping the future first
    /// ends the scope with [`CancelReason::Dropped`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        // Declared first, so dropped first: the inner future goes before the
        // guard cancels the tasks it spawned.
        #[pin]
        inner: InScope<F>,
        guard: Option<ScopeGuard>,
        until_body_end: bool,
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(crate) fn new(inner: F, guard: ScopeGuard, until_body_end: bool) -> Self {
        ResponseFuture {
            inner: guard.in_scope(inner),
            guard: Some(guard),
            until_body_end,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<ScopeBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let guard = this.guard.take();
        Poll::Ready(match result {
            Ok(response) if *this.until_body_end => {
                Ok(response.map(|body| ScopeBody::from_parts(body, guard)))
            }
            Ok(response) => {
                complete(guard);
                Ok(response.map(ScopeBody::new))
            }
            Err(err) => {
                complete(guard);
                Err(err)
            }
        })
    }
}

/// Ends the scope as completed (unless it was cancelled before).
pub(crate) fn complete(guard: Option<ScopeGuard>) {
    if let Some(guard) = guard {
        guard.cancel_with(CancelReason::Completed);
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("guard", &self.guard)
            .field("until_body_end", &self.until_body_end)
            .finish_non_exhaustive()
    }
}
