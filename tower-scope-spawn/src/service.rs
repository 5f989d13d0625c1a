//! [`ScopeSpawnService`]: the middleware that runs each request in its own scope.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use scope_spawn::__private::{RequestName, request_scope};
use scope_spawn::Scope;
use tower_service::Service;

use crate::ScopeSpawnLayer;
use crate::end::{AtResponse, ScopeEnd};
use crate::future::ResponseFuture;
use crate::layer::{Config, NameFn, Naming};

/// Middleware that gives every request its own [`Scope`]; see
/// [`ScopeSpawnLayer`] for what it does and how to configure it.
///
/// `E` says when the request scope ends: by default ([`AtResponse`]) when
/// the response is ready, and the response body is the inner service's;
/// with [`until_body_end`](ScopeSpawnLayer::until_body_end)
/// ([`AtBodyEnd`](crate::AtBodyEnd)) when the body has been sent, and the
/// body is a [`ScopeBody`](crate::ScopeBody) that owns the scope's guard.
///
/// # Examples
///
/// Around a plain `tower::service_fn`, which never looks at the request
/// extensions: the scope is still [`Scope::current`] while it runs.
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use scope_spawn::Scope;
/// use tower::{ServiceExt, service_fn};
/// use tower_scope_spawn::ScopeSpawnService;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let service = ScopeSpawnService::new(service_fn(|_req: Request<()>| async {
///     let scope = Scope::current().expect("the layer's request scope");
///     let answer = scope.spawn(async { 40 + 2 }).await.unwrap();
///     Ok::<_, Infallible>(Response::new(format!("{} says {answer}", scope.name())))
/// }));
///
/// let request = Request::get("/answer").body(()).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.into_body(), "GET /answer says 42");
/// # }
/// ```
pub struct ScopeSpawnService<S, E = AtResponse> {
    inner: S,
    config: Arc<Config>,
    end: PhantomData<E>,
}

impl<S: Clone, E> Clone for ScopeSpawnService<S, E> {
    fn clone(&self) -> Self {
        ScopeSpawnService {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
            end: PhantomData,
        }
    }
}

impl<S> ScopeSpawnService<S> {
    /// A [`ScopeSpawnLayer`] with the default configuration, to configure and
    /// wrap services with.
    pub fn layer() -> ScopeSpawnLayer {
        ScopeSpawnLayer::new()
    }

    /// Wraps `inner` with the default configuration (see [`ScopeSpawnLayer::new`]).
    pub fn new(inner: S) -> Self {
        Self::from_config(inner, Arc::default())
    }
}

impl<S, E> ScopeSpawnService<S, E> {
    pub(crate) fn from_config(inner: S, config: Arc<Config>) -> Self {
        ScopeSpawnService {
            inner,
            config,
            end: PhantomData,
        }
    }

    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, E, ReqBody, ResBody> Service<Request<ReqBody>> for ScopeSpawnService<S, E>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
    E: ScopeEnd,
{
    type Response = Response<E::Body<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, E>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &*self.config;
        let current;
        let parent = match &config.parent {
            Some(parent) => parent,
            None => {
                current = Scope::current().unwrap_or_else(Scope::global);
                &current
            }
        };
        let limit = config.max_tasks.map(|max_tasks| {
            let queued = config
                .max_queued
                .unwrap_or(ScopeSpawnLayer::DEFAULT_MAX_QUEUED);
            (max_tasks, queued)
        });
        let mut guard = match &config.naming {
            // A short name is kept inline in the scope, written there in
            // place: no allocation per request.
            Naming::MethodPath => request_scope(
                parent,
                RequestName::Joined(&[req.method().as_str(), " ", req.uri().path()]),
                config.timeout,
                limit,
            ),
            Naming::Fixed(name) => request_scope(
                parent,
                RequestName::Named(name.clone()),
                config.timeout,
                limit,
            ),
            Naming::With(make_name) => {
                let name;
                (name, req) = named_with(&**make_name, req);
                request_scope(parent, RequestName::Named(name), config.timeout, limit)
            }
        };

        req.extensions_mut().insert(Scope::clone(&guard));
        let entered = scope_spawn::__private::entered(&mut guard);
        let future = self.inner.call(req);
        drop(entered);
        ResponseFuture::new(future, guard)
    }
}

/// The name the layer's naming function gives the request, which it sees
/// the parts of: the request is taken apart and put back together (only in
/// this mode, so that the common one does not move the request around).
#[cold]
fn named_with<B>(make_name: &NameFn, req: Request<B>) -> (Cow<'static, str>, Request<B>) {
    let (parts, body) = req.into_parts();
    let name = make_name(&parts);
    (name, Request::from_parts(parts, body))
}

impl<S: fmt::Debug, E: ScopeEnd> fmt::Debug for ScopeSpawnService<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeSpawnService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("until_body_end", &E::UNTIL_BODY_END)
            .finish()
    }
}
