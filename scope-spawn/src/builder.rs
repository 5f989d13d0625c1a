//! [`ScopeBuilder`]: a scope with a name, timeout, limit, policy or parent.

use std::time::Duration;

use crate::name::ScopeName;
use crate::scope::{Name, Settings};
use crate::{Policy, Scope, ScopeGuard};

/// Builds a scope, like tokio's runtime `Builder`. From [`Scope::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use scope_spawn::{Policy, Scope};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = Scope::new();
/// let request = Scope::builder()
///     .name("GET /users")
///     .parent(&server)
///     .timeout(Duration::from_secs(2))
///     .limit(8)
///     .policy(Policy::FailFast)
///     .build();
/// assert_eq!(request.name(), "GET /users");
/// assert!(request.deadline().is_some());
/// # }
/// ```
///
/// # Panics
///
/// A setter given a meaningless value panics with a message naming it:
/// `limit(0)` ("a scope limit must be at least 1") and `timeout(Duration::ZERO)`
/// ("a scope timeout must be greater than zero"). A timeout too large to
/// represent as an instant means no deadline. The deadline's timer is armed
/// lazily, on the runtime of the first task, waiter or token that needs it, so
/// a scope with a timeout that nobody spawns into costs no timer.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ScopeBuilder {
    name: Option<ScopeName>,
    timeout: Option<Duration>,
    limit: Option<usize>,
    queue_limit: Option<usize>,
    policy: Policy,
    parent: Option<Scope>,
}

impl Default for ScopeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ScopeBuilder {
    /// A builder for a root scope with default settings.
    #[inline]
    pub fn new() -> Self {
        ScopeBuilder {
            name: None,
            timeout: None,
            limit: None,
            queue_limit: None,
            policy: Policy::default(),
            parent: None,
        }
    }

    /// Names the scope (a `&'static str` or an owned `String`).
    #[inline]
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = Some(ScopeName::from(name.into()));
        self
    }

    /// Names the scope from format arguments. A name of up to 38 bytes is
    /// stored in the scope itself, without an allocation: for names made per
    /// request, as the tower layer's `"{method} {path}"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use scope_spawn::Scope;
    ///
    /// let (method, path) = ("GET", "/users/7");
    /// let request = Scope::builder().name_fmt(format_args!("{method} {path}")).build();
    /// assert_eq!(request.name(), "GET /users/7");
    /// ```
    #[inline]
    pub fn name_fmt(mut self, name: std::fmt::Arguments<'_>) -> Self {
        self.name = Some(ScopeName::format(name));
        self
    }

    /// Names the scope by joining `parts`, as [`name_fmt`](Self::name_fmt)
    /// does (inline up to 38 bytes) but without the formatting machinery:
    /// for a name made on every request.
    ///
    /// # Examples
    ///
    /// ```
    /// use scope_spawn::Scope;
    ///
    /// let (method, path) = ("GET", "/users/7");
    /// let request = Scope::builder().name_concat(&[method, " ", path]).build();
    /// assert_eq!(request.name(), "GET /users/7");
    /// ```
    #[inline]
    pub fn name_concat(mut self, parts: &[&str]) -> Self {
        self.name = Some(ScopeName::concat(parts));
        self
    }

    /// Cancels the scope with [`CancelReason::DeadlineExceeded`](crate::CancelReason::DeadlineExceeded)
    /// when `timeout` has passed (on tokio's clock).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    #[inline]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        check_timeout(timeout);
        self.timeout = Some(timeout);
        self
    }

    /// At most `limit` of the scope's own tasks run at once. Spawning never
    /// blocks: extra tasks queue in spawn order, and a cancelled scope settles
    /// queued tasks as cancelled without running them.
    ///
    /// # Panics
    ///
    /// If `limit` is zero.
    #[track_caller]
    #[inline]
    pub fn limit(mut self, limit: usize) -> Self {
        check_limit(limit);
        self.limit = Some(limit);
        self
    }

    /// Bounds the queue of a scope with a [`limit`](ScopeBuilder::limit): when
    /// `limit` tasks run and `queue_limit` more wait, further spawns are refused
    /// at once with [`TaskError::QueueFull`](crate::TaskError::QueueFull), so a
    /// runaway spawner cannot exhaust memory. Without it the queue is unbounded.
    /// `queue_limit(0)` means no task ever waits. Has no effect without `limit`.
    #[inline]
    pub fn queue_limit(mut self, queue_limit: usize) -> Self {
        self.queue_limit = Some(queue_limit);
        self
    }

    /// How a task's failure affects the scope (default: [`Policy::Supervise`]).
    #[inline]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Makes the scope a child of `parent` (see [`Scope::child`]).
    #[inline]
    pub fn parent(mut self, parent: &Scope) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Builds the scope, returning the guard that owns it.
    #[track_caller]
    pub fn build(self) -> ScopeGuard {
        let name = self.name.unwrap_or(ScopeName::Cow(Name::Borrowed("scope")));
        Scope::build(
            Settings {
                name,
                timeout: self.timeout,
                limit: self.limit,
                queue_limit: self.queue_limit,
                policy: self.policy,
                parent: self.parent,
            },
            None,
        )
    }
}

/// Panics, naming the setting, if a scope's `timeout` is zero.
#[track_caller]
#[inline]
pub(crate) fn check_timeout(timeout: Duration) {
    assert!(
        !timeout.is_zero(),
        "scope-spawn: a scope timeout must be greater than zero"
    );
}

/// Panics, naming the setting, if a scope's `limit` is zero.
#[track_caller]
#[inline]
pub(crate) fn check_limit(limit: usize) {
    assert!(limit > 0, "scope-spawn: a scope limit must be at least 1");
}
