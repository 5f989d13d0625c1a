//! [`ScopeSpawnLayer`]: the configuration of the per-request scopes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use scope_spawn::Scope;
use tower_layer::Layer;

use crate::ScopeSpawnService;
use crate::end::{AtBodyEnd, AtResponse, ScopeEnd};

/// A [`Layer`] that gives every request its own [`Scope`]; produces
/// [`ScopeSpawnService`].
///
/// For each request the service builds a scope (a child of the
/// [`parent`](ScopeSpawnLayer::parent), else of [`Scope::current`], else of
/// [`Scope::global`]), puts a [`Scope`] handle into the request extensions, and
/// calls and polls the inner service with that scope as [`Scope::current`]. The
/// scope ends — cancelling whatever the request spawned and did not guard —
/// when the response is ready (reason
/// [`CancelReason::Completed`](scope_spawn::CancelReason::Completed)) or when
/// the response future is dropped first: the client went away, or a timeout
/// middleware gave up (reason
/// [`CancelReason::Dropped`](scope_spawn::CancelReason::Dropped)). With
/// [`until_body_end`](ScopeSpawnLayer::until_body_end) it lives on until the
/// response body has been sent.
///
/// Cloning the layer is cheap: the configuration is shared.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use scope_spawn::Scope;
/// use tower_scope_spawn::ScopeSpawnLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = Scope::builder().name("server").build();
/// let layer = ScopeSpawnLayer::new()
///     .parent(&server)
///     .timeout(Duration::from_secs(30))
///     .max_tasks(16)
///     .name_with(|parts| format!("{} {}", parts.method, parts.uri.path()));
/// # let _ = layer;
/// # }
/// ```
#[must_use = "a layer does nothing until it wraps a service"]
pub struct ScopeSpawnLayer<E = AtResponse> {
    pub(crate) config: Arc<Config>,
    end: PhantomData<E>,
}

/// Everything the layer knows, shared by every service it makes.
#[derive(Clone, Default)]
pub(crate) struct Config {
    pub(crate) parent: Option<Scope>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_tasks: Option<usize>,
    pub(crate) max_queued: Option<usize>,
    pub(crate) naming: Naming,
}

pub(crate) type NameFn = dyn Fn(&Parts) -> Cow<'static, str> + Send + Sync + 'static;

/// How a request scope gets its name.
#[derive(Clone, Default)]
pub(crate) enum Naming {
    /// `"{method} {path}"`.
    #[default]
    MethodPath,
    /// The same name for every request.
    Fixed(Cow<'static, str>),
    /// Computed from the request head.
    With(Arc<NameFn>),
}

impl ScopeSpawnLayer {
    /// The default bound on a request's waiting tasks under
    /// [`max_tasks`](ScopeSpawnLayer::max_tasks).
    pub const DEFAULT_MAX_QUEUED: usize = 1024;

    /// A layer with the defaults: scopes named `"{method} {path}"` (such as
    /// `"GET /users/7"`), children of [`Scope::current`] or else of
    /// [`Scope::global`], without timeout or task limit, ending when the
    /// response is ready.
    pub fn new() -> Self {
        ScopeSpawnLayer {
            config: Arc::default(),
            end: PhantomData,
        }
    }
}

impl Default for ScopeSpawnLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Clone for ScopeSpawnLayer<E> {
    fn clone(&self) -> Self {
        ScopeSpawnLayer {
            config: Arc::clone(&self.config),
            end: PhantomData,
        }
    }
}

impl<E: ScopeEnd> ScopeSpawnLayer<E> {
    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Makes every request scope a child of `parent`, typically a server root:
    /// [`parent.live_tasks()`](Scope::live_tasks) and
    /// [`snapshot()`](Scope::snapshot) then show every request's tasks, and
    /// `shutdown` on the root's guard cancels and joins them all, stopping
    /// stragglers at its deadline.
    ///
    /// A request that arrives after the parent was cancelled gets a cancelled
    /// scope: the handler still runs, but what it spawns is cancelled at once
    /// (a guarded task is refused only once the parent is shutting down or
    /// has ended).
    pub fn parent(mut self, parent: &Scope) -> Self {
        self.config_mut().parent = Some(parent.clone());
        self
    }

    /// Gives every request scope a deadline: when it passes, the request's
    /// tasks are cancelled with
    /// [`CancelReason::DeadlineExceeded`](scope_spawn::CancelReason::DeadlineExceeded).
    ///
    /// This bounds the tasks, not the response: the inner service goes on. To
    /// also answer with an error at a deadline, put a timeout middleware (such
    /// as tower-http's `TimeoutLayer`) *outside* this layer; when it drops the
    /// response future the scope ends with
    /// [`CancelReason::Dropped`](scope_spawn::CancelReason::Dropped).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    #[track_caller]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        assert!(
            !timeout.is_zero(),
            "tower-scope-spawn: the request scope timeout must be greater than zero"
        );
        self.config_mut().timeout = Some(timeout);
        self
    }

    /// At most `max_tasks` of a request's own tasks run at once; the others
    /// wait in spawn order (spawning never blocks), at most
    /// [`max_queued`](ScopeSpawnLayer::max_queued) of them (default
    /// [`DEFAULT_MAX_QUEUED`](ScopeSpawnLayer::DEFAULT_MAX_QUEUED)); spawns
    /// beyond that are refused with
    /// [`TaskError::QueueFull`](scope_spawn::TaskError::QueueFull), so one
    /// request cannot exhaust memory. See
    /// [`ScopeBuilder::limit`](scope_spawn::ScopeBuilder::limit).
    ///
    /// # Panics
    ///
    /// If `max_tasks` is zero.
    #[track_caller]
    pub fn max_tasks(mut self, max_tasks: usize) -> Self {
        assert!(
            max_tasks > 0,
            "tower-scope-spawn: max_tasks must be at least 1"
        );
        self.config_mut().max_tasks = Some(max_tasks);
        self
    }

    /// How many tasks a request may have waiting under
    /// [`max_tasks`](ScopeSpawnLayer::max_tasks) before further spawns are
    /// refused. See [`ScopeBuilder::queue_limit`](scope_spawn::ScopeBuilder::queue_limit).
    pub fn max_queued(mut self, max_queued: usize) -> Self {
        self.config_mut().max_queued = Some(max_queued);
        self
    }

    /// Gives every request scope the same name (a `&'static str` or a
    /// `String`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config_mut().naming = Naming::Fixed(name.into());
        self
    }

    /// Names each request scope from the request head (method, URI, headers,
    /// extensions). The closure returns a `&'static str`, a `String` or a
    /// `Cow<'static, str>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_scope_spawn::ScopeSpawnLayer;
    ///
    /// let layer = ScopeSpawnLayer::new().name_with(|parts| {
    ///     match parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
    ///         Some(id) => format!("{} {} [{id}]", parts.method, parts.uri.path()),
    ///         None => format!("{} {}", parts.method, parts.uri.path()),
    ///     }
    /// });
    /// # let _ = layer;
    /// ```
    pub fn name_with<F, N>(mut self, make_name: F) -> Self
    where
        F: Fn(&Parts) -> N + Send + Sync + 'static,
        N: Into<Cow<'static, str>>,
    {
        self.config_mut().naming = Naming::With(Arc::new(move |parts| make_name(parts).into()));
        self
    }

    /// Keeps each request scope alive until the response body has been sent,
    /// instead of only until the response head is ready.
    ///
    /// The scope's guard moves into the [`ScopeBody`](crate::ScopeBody): it
    /// ends with [`CancelReason::Completed`](scope_spawn::CancelReason::Completed)
    /// when the body reaches its end, and with
    /// [`CancelReason::Dropped`](scope_spawn::CancelReason::Dropped) when the
    /// body is dropped before that (the client stopped reading) or yields an
    /// error. Use it for streaming responses (SSE, chunked downloads) whose
    /// frames come from tasks spawned by the handler: they run exactly as long
    /// as the stream.
    ///
    /// The responses' body type becomes [`ScopeBody<B>`](crate::ScopeBody);
    /// by default it is the inner service's own.
    pub fn until_body_end(self) -> ScopeSpawnLayer<AtBodyEnd> {
        ScopeSpawnLayer {
            config: self.config,
            end: PhantomData,
        }
    }
}

impl<S, E: ScopeEnd> Layer<S> for ScopeSpawnLayer<E> {
    type Service = ScopeSpawnService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        ScopeSpawnService::from_config(inner, Arc::clone(&self.config))
    }
}

impl<E: ScopeEnd> fmt::Debug for ScopeSpawnLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeSpawnLayer")
            .field("parent", &self.config.parent)
            .field("timeout", &self.config.timeout)
            .field("max_tasks", &self.config.max_tasks)
            .field("max_queued", &self.config.max_queued)
            .field("name", &self.config.naming)
            .field("until_body_end", &E::UNTIL_BODY_END)
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("parent", &self.parent)
            .field("timeout", &self.timeout)
            .field("max_tasks", &self.max_tasks)
            .field("max_queued", &self.max_queued)
            .field("name", &self.naming)
            .finish()
    }
}

impl fmt::Debug for Naming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Naming::MethodPath => f.write_str("\"{method} {path}\""),
            Naming::Fixed(name) => fmt::Debug::fmt(name, f),
            Naming::With(_) => f.write_str("<fn(&Parts)>"),
        }
    }
}
