//! [`ResponseFuture`]: the inner service's future, run in the request scope.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;
use scope_spawn::__private::{enter_guard, poll_once};
use scope_spawn::{CancelReason, ScopeGuard};

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
        // `None` once it has completed (or been dropped, see `PinnedDrop`).
        #[pin]
        inner: Option<F>,
        // The scope is entered with the guard's own handle: the future needs
        // no second one. `None` once the response is ready.
        guard: Option<ScopeGuard>,
        end: PhantomData<E>,
    }

    impl<F, E> PinnedDrop for ResponseFuture<F, E> {
        // Dropped first: the inner future goes, in the request scope, before
        // the guard cancels the tasks it spawned.
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut inner = this.inner;
            if inner.is_some() {
                match this.guard {
                    Some(guard) => enter_guard(guard, || inner.set(None)),
                    None => inner.set(None),
                }
            }
        }
    }
}

impl<F: Future, E> ResponseFuture<F, E> {
    #[inline]
    pub(crate) fn new(inner: F, guard: ScopeGuard) -> Self {
        ResponseFuture {
            inner: Some(inner),
            guard: Some(guard),
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
        let this = self.project();
        let mut inner = this.inner;
        let guard = this
            .guard
            .as_mut()
            .expect("tower-scope-spawn: ResponseFuture polled after completion");
        let result = ready!(enter_guard(guard, || {
            poll_once(inner.as_mut(), cx, "tower-scope-spawn: ResponseFuture")
        }));
        let guard = this.guard.take();
        Poll::Ready(match result {
            Ok(response) => Ok(response.map(|body| E::finish(body, guard))),
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
            .field("guard", &self.guard)
            .field("until_body_end", &E::UNTIL_BODY_END)
            .finish_non_exhaustive()
    }
}
