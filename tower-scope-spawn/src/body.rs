//! [`ScopeBody`]: a response body that can own its request's scope.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use scope_spawn::{Scope, ScopeGuard};

use crate::future::complete;

pin_project! {
    /// The response body of [`ScopeSpawnService`](crate::ScopeSpawnService) in
    /// [`until_body_end`](crate::ScopeSpawnLayer::until_body_end) mode
    /// ([`AtBodyEnd`](crate::AtBodyEnd)): the inner service's body and the
    /// request scope's guard. (By default the response body is the inner
    /// service's own.)
    ///
    /// Frames, size hint and end of stream are the inner body's. A body that
    /// holds a guard ends the scope with
    /// [`CancelReason::Completed`](scope_spawn::CancelReason::Completed) once the
    /// inner body has yielded its last frame, and with
    /// [`CancelReason::Dropped`](scope_spawn::CancelReason::Dropped) if it is
    /// dropped before that or the inner body yields an error. Without a guard
    /// it is a plain pass-through.
    ///
    /// # Examples
    ///
    /// ```
    /// use http_body_util::BodyExt;
    /// use scope_spawn::{CancelReason, Scope};
    /// use tower_scope_spawn::ScopeBody;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let guard = Scope::new();
    /// let scope = guard.clone();
    /// let body = ScopeBody::with_guard(String::from("hello"), guard);
    /// assert_eq!(scope.cancel_reason(), None);
    ///
    /// let bytes = body.collect().await.unwrap().to_bytes();
    /// assert_eq!(bytes, "hello");
    /// assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    /// # }
    /// ```
    pub struct ScopeBody<B> {
        #[pin]
        inner: B,
        guard: Option<ScopeGuard>,
    }
}

impl<B> ScopeBody<B> {
    /// Wraps a body, without a scope.
    pub fn new(inner: B) -> Self {
        ScopeBody { inner, guard: None }
    }

    /// Wraps a body that owns `guard`'s scope until its end (see the type's
    /// docs).
    pub fn with_guard(inner: B, guard: ScopeGuard) -> Self
    where
        B: Body,
    {
        Self::from_parts(inner, Some(guard))
    }

    pub(crate) fn from_parts(inner: B, guard: Option<ScopeGuard>) -> Self
    where
        B: Body,
    {
        if inner.is_end_stream() {
            // An empty body is sent without being polled: it is complete now.
            complete(guard);
            return ScopeBody { inner, guard: None };
        }
        ScopeBody { inner, guard }
    }

    /// The scope this body keeps alive, if it holds one that has not ended.
    pub fn scope(&self) -> Option<&Scope> {
        self.guard.as_deref()
    }

    /// A reference to the inner body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// A mutable reference to the inner body.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// A pinned mutable reference to the inner body.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut B> {
        self.project().inner
    }

    /// Consumes `self`, returning the inner body. A scope the body still holds
    /// ends here, with
    /// [`CancelReason::Dropped`](scope_spawn::CancelReason::Dropped).
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for ScopeBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if this.guard.is_some() {
            match &frame {
                // hyper stops polling as soon as a body says it is at its end,
                // so the end is checked after every frame, not only at `None`.
                None => complete(this.guard.take()),
                Some(Ok(_)) if this.inner.is_end_stream() => complete(this.guard.take()),
                // The response was not delivered: end as if dropped.
                Some(Err(_)) => drop(this.guard.take()),
                Some(Ok(_)) => {}
            }
        }
        Poll::Ready(frame)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Default> Default for ScopeBody<B> {
    fn default() -> Self {
        ScopeBody::new(B::default())
    }
}

impl<B: fmt::Debug> fmt::Debug for ScopeBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeBody")
            .field("inner", &self.inner)
            .field("guard", &self.guard)
            .finish()
    }
}
