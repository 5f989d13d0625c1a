//! Errors of tasks and of scopes.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

use crate::{CancelReason, TaskId};

/// Why a task did not produce its output. Returned by awaiting a
/// [`TaskHandle`](crate::TaskHandle).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task's scope was cancelled before the task finished (or before it
    /// started: spawning into a cancelled or ended scope yields this at once;
    /// a guarded task is refused only once its scope is shutting down or has
    /// ended).
    Cancelled(CancelReason),
    /// The task panicked; the panic message.
    Panicked(String),
    /// The task's own timeout ([`TaskBuilder::timeout`](crate::TaskBuilder::timeout)) passed.
    TimedOut,
    /// The scope's queue was full: the scope already runs its
    /// [`limit`](crate::ScopeBuilder::limit) of tasks and has
    /// [`queue_limit`](crate::ScopeBuilder::queue_limit) more waiting, so the
    /// task was refused at once, without running.
    QueueFull,
    /// The task was aborted: by [`TaskHandle::abort`](crate::TaskHandle::abort), or by
    /// [`ScopeGuard::shutdown`](crate::ScopeGuard::shutdown) at its deadline.
    Aborted,
}

impl TaskError {
    /// Whether the task was cancelled with its scope.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled(_))
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled(reason) => write!(f, "task cancelled because {reason}"),
            TaskError::Panicked(msg) => write!(f, "task panicked: {msg}"),
            TaskError::TimedOut => f.write_str("task timed out"),
            TaskError::QueueFull => f.write_str("task refused: its scope's queue is full"),
            TaskError::Aborted => f.write_str("task aborted"),
        }
    }
}

impl Error for TaskError {}

/// How a task failed, as recorded by its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum FailureKind {
    /// The task panicked, with this message.
    Panicked(String),
    /// A task spawned with [`Scope::try_spawn`](crate::Scope::try_spawn) returned
    /// `Err`, displayed as this message.
    Error(String),
}

/// A task failure recorded by a scope, reported by [`ScopeGuard::join`](crate::ScopeGuard::join).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TaskFailure {
    /// The failed task's id.
    pub id: TaskId,
    /// The failed task's name, if it had one.
    pub name: Option<Cow<'static, str>>,
    /// What went wrong.
    pub kind: FailureKind,
}

impl TaskFailure {
    /// The task's name, or `task#<id>` for an unnamed task.
    pub fn label(&self) -> Cow<'static, str> {
        match &self.name {
            Some(name) => name.clone(),
            None => Cow::Owned(format!("task#{}", self.id)),
        }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FailureKind::Panicked(msg) => write!(f, "`{}` panicked: {msg}", self.label()),
            FailureKind::Error(msg) => write!(f, "`{}` failed: {msg}", self.label()),
        }
    }
}

/// The error of [`ScopeGuard::join`](crate::ScopeGuard::join) under the
/// [`Policy::FailFast`](crate::Policy::FailFast) and
/// [`Policy::CollectAll`](crate::Policy::CollectAll) policies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeError {
    /// Under `FailFast`: the first failure, which cancelled the scope.
    TaskFailed(TaskFailure),
    /// Under `CollectAll`: every failure, in the order they happened (never empty).
    Failures(Vec<TaskFailure>),
}

impl ScopeError {
    /// The failures this error carries.
    pub fn failures(&self) -> &[TaskFailure] {
        match self {
            ScopeError::TaskFailed(failure) => std::slice::from_ref(failure),
            ScopeError::Failures(failures) => failures,
        }
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::TaskFailed(failure) => write!(f, "scope failed fast: {failure}"),
            ScopeError::Failures(failures) => {
                write!(f, "{} task(s) failed", failures.len())?;
                for failure in failures {
                    write!(f, "; {failure}")?;
                }
                Ok(())
            }
        }
    }
}

impl Error for ScopeError {}
