//! Why a scope was cancelled.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

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

/// A scope's or a task's cancel reason, recorded once: the first reason
/// wins. A reason without data (the common ones: `Completed`, `Dropped`,
/// `ParentCancelled`…) is recorded with one compare-and-swap of a code; one
/// with data (`Requested(Some(..))`, `TaskFailed`) is stored first, then
/// claimed with the same compare-and-swap. The data lives apart (in the rest
/// of a scope, which only some scopes have: see `scope::Rest`; in a box for
/// a task's record), so the code is all a scope or a task carries inline.
#[derive(Debug, Default)]
pub(crate) struct ReasonCell {
    code: AtomicU8,
}

// `ReasonCell::code` values; 0: no reason yet.
const DROPPED: u8 = 1;
const COMPLETED: u8 = 2;
const REQUESTED: u8 = 3;
const DEADLINE_EXCEEDED: u8 = 4;
const PARENT_CANCELLED: u8 = 5;
const SHUTDOWN: u8 = 6;
const WITH_DATA: u8 = 7;

impl ReasonCell {
    /// Records `reason` unless a reason was recorded before; true if it was
    /// this one. `data` is where a reason with data is stored.
    pub(crate) fn set<'a, D: ReasonData + 'a>(
        &self,
        reason: CancelReason,
        data: impl FnOnce() -> &'a D,
    ) -> bool {
        let code = match reason {
            CancelReason::Dropped => DROPPED,
            CancelReason::Completed => COMPLETED,
            CancelReason::Requested(None) => REQUESTED,
            CancelReason::DeadlineExceeded => DEADLINE_EXCEEDED,
            CancelReason::ParentCancelled => PARENT_CANCELLED,
            CancelReason::Shutdown => SHUTDOWN,
            CancelReason::Requested(Some(_)) | CancelReason::TaskFailed { .. } => {
                if self.code.load(Ordering::Acquire) != 0 {
                    return false;
                }
                // Of two reasons with data set at once, the one stored first is
                // the one kept, whichever of them claims the code.
                data().store(reason);
                WITH_DATA
            }
        };
        self.code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The recorded reason, if any. `data` is where a reason with data was
    /// stored (if one was, it is there).
    pub(crate) fn get<'a, D: ReasonData + 'a>(
        &self,
        data: impl FnOnce() -> Option<&'a D>,
    ) -> Option<CancelReason> {
        Some(match self.code.load(Ordering::Acquire) {
            0 => return None,
            DROPPED => CancelReason::Dropped,
            COMPLETED => CancelReason::Completed,
            REQUESTED => CancelReason::Requested(None),
            DEADLINE_EXCEEDED => CancelReason::DeadlineExceeded,
            PARENT_CANCELLED => CancelReason::ParentCancelled,
            SHUTDOWN => CancelReason::Shutdown,
            _ => data()?.load()?.clone(),
        })
    }
}

/// Where a [`ReasonCell`] keeps a reason with data: stored at most once, the
/// first store wins.
pub(crate) trait ReasonData {
    fn store(&self, reason: CancelReason);
    fn load(&self) -> Option<&CancelReason>;
}

/// A scope's, in its rest.
impl ReasonData for OnceLock<CancelReason> {
    fn store(&self, reason: CancelReason) {
        let _ = self.set(reason);
    }

    fn load(&self) -> Option<&CancelReason> {
        self.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_kept_with_or_without_data() {
        let data = OnceLock::new();
        let cell = ReasonCell::default();
        let get = |cell: &ReasonCell| cell.get(|| Some(&data));
        assert_eq!(get(&cell), None);
        assert!(cell.set(CancelReason::Completed, || &data));
        assert!(!cell.set(CancelReason::requested("later"), || &data));
        assert!(!cell.set(CancelReason::Dropped, || &data));
        assert_eq!(get(&cell), Some(CancelReason::Completed));

        let data = OnceLock::new();
        let cell = ReasonCell::default();
        let get = |cell: &ReasonCell| cell.get(|| Some(&data));
        assert!(cell.set(
            CancelReason::TaskFailed {
                task: "fetch".into()
            },
            || &data
        ));
        assert!(!cell.set(CancelReason::Shutdown, || &data));
        assert!(!cell.set(CancelReason::requested("later"), || &data));
        assert_eq!(
            get(&cell),
            Some(CancelReason::TaskFailed {
                task: "fetch".into()
            })
        );
    }
}
