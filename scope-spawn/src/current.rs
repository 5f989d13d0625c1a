//! The task-local that makes [`Scope::current`](crate::Scope::current) work, and
//! the future that sets it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use crate::Scope;

tokio::task_local! {
    pub(crate) static CURRENT: Scope;
}

pin_project! {
    /// Future for [`Scope::in_scope`](crate::Scope::in_scope): runs the inner
    /// future with a scope as [`Scope::current`](crate::Scope::current).
    #[must_use = "futures do nothing unless polled"]
    pub struct InScope<F> {
        #[pin]
        inner: TaskLocalFuture<Scope, F>,
    }
}

impl<F> InScope<F> {
    pub(crate) fn new(inner: TaskLocalFuture<Scope, F>) -> Self {
        InScope { inner }
    }
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F> std::fmt::Debug for InScope<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InScope").finish_non_exhaustive()
    }
}
