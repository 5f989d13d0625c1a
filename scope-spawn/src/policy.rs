//! How a task's failure affects its scope.

/// How a task's failure affects its scope. A failure is a panic, or the `Err` of
/// a task spawned with [`Scope::try_spawn`](crate::Scope::try_spawn).
///
/// Whatever the policy, a panic is never lost: the task's handle resolves to
/// [`TaskError::Panicked`](crate::TaskError::Panicked), and the failure is kept
/// for [`ScopeGuard::join`](crate::ScopeGuard::join).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Policy {
    /// A failure is reported (in [`Outcome::failures`](crate::Outcome::failures)),
    /// and the task's siblings go on. `join` returns `Ok`.
    #[default]
    Supervise,
    /// The first failure cancels the scope with
    /// [`CancelReason::TaskFailed`](crate::CancelReason::TaskFailed), and `join`
    /// returns it as [`ScopeError::TaskFailed`](crate::ScopeError::TaskFailed).
    FailFast,
    /// Siblings go on; `join` returns every failure as
    /// [`ScopeError::Failures`](crate::ScopeError::Failures).
    CollectAll,
}
