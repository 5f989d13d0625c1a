//! Why a scope was cancelled.

use std::borrow::Cow;
use std::fmt;

/// Why a scope was cancelled. The first cause wins: once a scope has a reason,
/// later cancellations do not change it.
///
/// Tasks that were stopped by a cancellation report the reason in
/// [`TaskError::Cancelled`](crate::TaskError::Cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum CancelReason {
    /// The scope's [`ScopeGuard`](crate::ScopeGuard) was dropped before the scope
    /// was joined or shut down: the owner went away (for a request scope: the
    /// client disconnected, or a timeout middleware dropped the request).
    Dropped,
    /// The scope's owner finished normally: [`ScopeGuard::join`](crate::ScopeGuard::join)
    /// returned, or (for a request scope) the response was produced.
    Completed,
    /// [`Scope::cancel`](crate::Scope::cancel) or
    /// [`Scope::cancel_with`](crate::Scope::cancel_with) was called, with an
    /// optional message.
    Requested(Option<Cow<'static, str>>),
    /// The scope's own deadline (from [`ScopeBuilder::timeout`](crate::ScopeBuilder::timeout)) passed.
    DeadlineExceeded,
    /// A task failed under [`Policy::FailFast`](crate::Policy::FailFast).
    TaskFailed {
        /// The failed task's name, or `task#<id>` for an unnamed task.
        task: Cow<'static, str>,
    },
    /// An ancestor scope was cancelled; the ancestor's own reason says why.
    ParentCancelled,
    /// [`ScopeGuard::shutdown`](crate::ScopeGuard::shutdown) was called on this
    /// scope.
    Shutdown,
}

impl CancelReason {
    /// An explicit cancellation with a message, for [`Scope::cancel_with`](crate::Scope::cancel_with).
    pub fn requested(message: impl Into<Cow<'static, str>>) -> Self {
        CancelReason::Requested(Some(message.into()))
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::Dropped => f.write_str("its guard was dropped"),
            CancelReason::Completed => f.write_str("its owner completed"),
            CancelReason::Requested(None) => f.write_str("cancellation was requested"),
            CancelReason::Requested(Some(msg)) => write!(f, "cancellation was requested: {msg}"),
            CancelReason::DeadlineExceeded => f.write_str("its deadline passed"),
            CancelReason::TaskFailed { task } => write!(f, "task `{task}` failed"),
            CancelReason::ParentCancelled => f.write_str("its parent scope was cancelled"),
            CancelReason::Shutdown => f.write_str("it was shut down"),
        }
    }
}
