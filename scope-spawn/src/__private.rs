//! What the macros expand to. Not public API: no stability guarantees.

use std::future::Future;

use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinSet};

pub use crate::Policy;
pub use crate::handler::{HandlerOptions, HandlerRun, HandlerScope, ViaParts, ViaRequest};
pub use crate::task::TaskOptions;
use crate::task::{NoFailure, Prepared, TaskOutput, panic_message};
use crate::{Scope, ScopeGuard, TaskError, TaskHandle};

/// The target of the one-argument forms: [`Scope::current`], or
/// [`Scope::global`] outside any scope.
#[derive(Debug, Clone, Copy)]
pub struct Current;

/// Where a `scope_spawn!` task goes, and what spawning returns there.
pub trait SpawnTarget<T> {
    /// `TaskHandle<T>` for scopes, `AbortHandle` for a `JoinSet`.
    type Output;

    /// Spawns a future.
    fn spawn_future<F>(self, options: TaskOptions, future: F) -> Self::Output
    where
        F: Future<Output = T> + Send + 'static;

    /// Spawns a closure on the blocking pool.
    fn spawn_closure<F>(self, options: TaskOptions, f: F) -> Self::Output
    where
        F: FnOnce() -> T + Send + 'static;
}

impl<T: Send + 'static> SpawnTarget<T> for &Scope {
    type Output = TaskHandle<T>;

    #[track_caller]
    fn spawn_future<F>(self, options: TaskOptions, future: F) -> TaskHandle<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_with::<F, NoFailure>(options, future, None)
    }

    #[track_caller]
    fn spawn_closure<F>(self, options: TaskOptions, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.spawn_blocking_with(options, f)
    }
}

impl<T: Send + 'static> SpawnTarget<T> for Scope {
    type Output = TaskHandle<T>;

    #[track_caller]
    fn spawn_future<F>(self, options: TaskOptions, future: F) -> TaskHandle<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        (&self).spawn_future(options, future)
    }

    #[track_caller]
    fn spawn_closure<F>(self, options: TaskOptions, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        (&self).spawn_closure(options, f)
    }
}

impl<T: Send + 'static> SpawnTarget<T> for &ScopeGuard {
    type Output = TaskHandle<T>;

    #[track_caller]
    fn spawn_future<F>(self, options: TaskOptions, future: F) -> TaskHandle<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        (&**self).spawn_future(options, future)
    }

    #[track_caller]
    fn spawn_closure<F>(self, options: TaskOptions, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        (&**self).spawn_closure(options, f)
    }
}

impl<T: Send + 'static> SpawnTarget<T> for Current {
    type Output = TaskHandle<T>;

    #[track_caller]
    fn spawn_future<F>(self, options: TaskOptions, future: F) -> TaskHandle<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        current_or_global().spawn_future(options, future)
    }

    #[track_caller]
    fn spawn_closure<F>(self, options: TaskOptions, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        current_or_global().spawn_closure(options, f)
    }
}

/// A `JoinSet` target: the task joins the set *and* stays governed by the
/// current scope. When that scope is cancelled, the task is aborted, which the
/// set sees as a cancelled task (`JoinError::is_cancelled`); a panic reaches the
/// set as a panic.
impl<T: Send + 'static> SpawnTarget<T> for &mut JoinSet<T> {
    type Output = AbortHandle;

    #[track_caller]
    fn spawn_future<F>(self, options: TaskOptions, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let scope = current_or_global();
        let prepared = scope.prepare::<F, NoFailure>(&options, future);
        spawn_into_set(self, prepared)
    }

    #[track_caller]
    fn spawn_closure<F>(self, options: TaskOptions, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let scope = current_or_global();
        let prepared = scope.prepare_blocking(&options, f);
        spawn_into_set(self, prepared)
    }
}

fn spawn_into_set<T, Fut>(
    set: &mut JoinSet<T>,
    prepared: Result<Prepared<'_, Fut>, TaskError>,
) -> AbortHandle
where
    T: Send + 'static,
    Fut: Future<Output = TaskOutput<T>> + Send + 'static,
{
    let (task, attach) = match prepared {
        Ok(Prepared { future, attach }) => (Ok((future, attach.record())), Some(attach)),
        Err(err) => (Err(err), None),
    };
    // Outcomes the set's element type cannot carry (refused, timed out) end
    // the task as cancelled: it aborts itself, with its own handle.
    let (handle_tx, handle_rx) = oneshot::channel::<AbortHandle>();
    let handle = set.spawn(async move {
        let out = match task {
            Ok((task, record)) => task.await.map_err(|stop| record.error(stop)),
            Err(err) => Err(err),
        };
        match out {
            Ok(value) => value,
            // Re-raise without the panic hook: it already printed once.
            Err(TaskError::Panicked(message)) => std::panic::resume_unwind(Box::new(message)),
            Err(_) => {
                if let Ok(me) = handle_rx.await {
                    me.abort();
                }
                std::future::pending().await
            }
        }
    });
    if let Some(attach) = attach {
        attach.attach(handle.clone());
    }
    let _ = handle_tx.send(handle.clone());
    handle
}

/// `Scope::current()`, or `Scope::global()` outside any scope.
pub fn current_or_global() -> Scope {
    Scope::current().unwrap_or_else(Scope::global)
}

/// `scope_spawn!` and `scope_spawn_guarded!`.
#[track_caller]
pub fn spawn<Tg, F>(target: Tg, options: TaskOptions, future: F) -> Tg::Output
where
    Tg: SpawnTarget<F::Output>,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    target.spawn_future(options, future)
}

/// `scope_spawn_blocking!` and `scope_spawn_blocking_nocontext!`.
#[track_caller]
pub fn spawn_blocking<Tg, F, T>(target: Tg, options: TaskOptions, f: F) -> Tg::Output
where
    Tg: SpawnTarget<T>,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    target.spawn_closure(options, f)
}

/// `scope_drain!`: joins tasks of the set until at most `max` remain (all of
/// them without `max`), and returns the first error.
pub async fn drain<E>(set: &mut JoinSet<Result<(), E>>, max: Option<usize>) -> Result<(), E>
where
    E: From<TaskError> + 'static,
{
    let keep = max.unwrap_or(0);
    let mut first = None;
    while set.len() > keep {
        let Some(joined) = set.join_next().await else {
            break;
        };
        let err = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(err)) => err,
            Err(join_err) if join_err.is_panic() => {
                E::from(TaskError::Panicked(panic_message(&*join_err.into_panic())))
            }
            Err(_) => E::from(
                Scope::current()
                    .and_then(|s| s.cancel_reason())
                    .map_or(TaskError::Aborted, TaskError::Cancelled),
            ),
        };
        first.get_or_insert(err);
    }
    first.map_or(Ok(()), Err)
}

/// The scope of `guard` made [`Scope::current`] until this is dropped, lending
/// the guard's own handle: for the tower layer, whose inner service's call
/// returns a large future that a closure would move once more. Drop it on the
/// thread that made it, before anything entered earlier is left.
#[must_use = "the scope is current only until this is dropped"]
pub struct Entered<'a> {
    _entered: crate::current::Entered<'a>,
}

/// Makes `guard`'s scope current until the returned value is dropped.
#[inline]
pub fn entered(guard: &mut ScopeGuard) -> Entered<'_> {
    Entered {
        _entered: guard.entered(),
    }
}

impl std::fmt::Debug for Entered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

/// How the tower layer names a request scope.
#[derive(Debug)]
pub enum RequestName<'a> {
    /// The pieces joined (as
    /// [`ScopeBuilder::name_concat`](crate::ScopeBuilder::name_concat)
    /// does), written in place in the scope.
    Joined(&'a [&'a str]),
    /// A name made for the request.
    Named(std::borrow::Cow<'static, str>),
}

/// The tower layer's request scope: a child of `parent`, with a timeout and
/// a limit (`(limit, queue_limit)`) if given. Made without a
/// [`ScopeBuilder`](crate::ScopeBuilder), whose moves from setter to setter
/// (it is passed by value) cost more than the rest of a request scope: each
/// copy reads back fields just written. The values are checked as the
/// builder checks them.
#[track_caller]
pub fn request_scope(
    parent: &Scope,
    name: RequestName<'_>,
    timeout: Option<std::time::Duration>,
    limit: Option<(usize, usize)>,
) -> ScopeGuard {
    if let Some(timeout) = timeout {
        crate::builder::check_timeout(timeout);
    }
    let (limit, queue_limit) = limit.unzip();
    if let Some(limit) = limit {
        crate::builder::check_limit(limit);
    }
    let (name, join) = match name {
        RequestName::Joined(parts) => (crate::name::ScopeName::placeholder(), Some(parts)),
        RequestName::Named(name) => (crate::name::ScopeName::from(name), None),
    };
    Scope::build(
        crate::scope::Settings {
            name,
            timeout,
            limit,
            queue_limit,
            policy: crate::Policy::default(),
            parent: Some(parent.clone()),
        },
        join,
    )
}
