//! axum integration: [`Scope`] and `#[scoped]`'s injected argument as extractors.

use std::convert::Infallible;

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;

use crate::Scope;
use crate::handler::{HandlerScope, ViaParts, ViaRequest};

/// `Scope` is an axum extractor.
///
/// Under `tower-scope-spawn`'s layer it yields the request's scope (from the
/// request extensions). Without the layer there is no request scope to hand
/// out, so it yields [`Scope::current`] or [`Scope::global`]: spawning works and
/// is tracked, but the tasks do not end with the request. Use the layer, or
/// `#[scoped]` (which gives each invocation its own scope), for that.
impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Scope>()
            .cloned()
            .or_else(Scope::current)
            .unwrap_or_else(Scope::global))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HandlerScope<ViaParts> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(HandlerScope::new(parts.extensions.get::<Scope>().cloned()))
    }
}

impl<S: Send + Sync> FromRequest<S> for HandlerScope<ViaRequest> {
    type Rejection = Infallible;

    // Not an `async fn`: its future would hold the request (which axum
    // moves into it with a call to `memcpy`) only to read one extension. The
    // scope is read at once and the request dropped here; the future is ready.
    fn from_request(
        req: Request,
        _state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        std::future::ready(Ok(HandlerScope::new(
            req.extensions().get::<Scope>().cloned(),
        )))
    }
}
