//! [`ResponseFuture`]: the inner service's future, run in the request scope.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;
use scope_spawn::{CancelReason, ScopeGuard, ScopeRun};

use crate::end::{AtResponse, ScopeEnd};

pin_project! {
    /// Response future for [`ScopeSpawnService`](crate::ScopeSpawnService).
    ///
    /// Polls the inner service's future with the request scope as
    /// [`Scope::current`](scope_spawn::Scope::current), and owns the scope's
    /// guard until the response is ready: then it ends the scope with
    /// [`CancelReason::Completed`] (also when the inner service returned an
    /// error), or, in [`until_body_end`](crate::ScopeSpawnLayer::until_body_end)
    /// mode, hands the guard to the [`ScopeBody`](crate::ScopeBody). Dropping
    /// the future first ends the scope with [`CancelReason::Dropped`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, E = AtResponse> {
        // The guard's own run: the scope entered with the guard's handle, the
        // inner future dropped in it before the guard ends it.
        #[pin]
        run: ScopeRun<F>,
        end: PhantomData<E>,
    }
}

impl<F: Future, E> ResponseFuture<F, E> {
    #[inline]
    pub(crate) fn new(inner: F, guard: ScopeGuard) -> Self {
        ResponseFuture {
            run: guard.run(inner),
            end: PhantomData,
        }
    }
}

impl<F, B, Err, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response<B>, Err>>,
    B: Body,
    E: ScopeEnd,
{
    type Output = Result<Response<E::Body<B>>, Err>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut run = self.project().run;
        let result = ready!(run.as_mut().poll_run(cx));
        let guard = run.take_guard();
        Poll::Ready(match result {
            Ok(response) => Ok(E::finish(response, guard)),
            Err(err) => {
                complete(guard);
                Err(err)
            }
        })
    }
}

pub(crate) fn complete(guard: Option<ScopeGuard>) {
    if let Some(guard) = guard {
        guard.end_with(CancelReason::Completed);
    }
}

impl<F, E: ScopeEnd> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("run", &self.run)
            .field("until_body_end", &E::UNTIL_BODY_END)
            .finish_non_exhaustive()
    }
}
