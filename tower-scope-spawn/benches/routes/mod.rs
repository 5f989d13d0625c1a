//! The handlers of case 4, shared by `requests.rs` (divan) and
//! `requests_paired.rs` (interleaved).

#![allow(dead_code)] // each bench uses the handlers it needs

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use scope_spawn::{scope_spawn, scoped};
use tower::ServiceExt;

pub const HELLO: &str = "Hello, World!";

pub async fn hello() -> &'static str {
    HELLO
}

#[scoped]
pub async fn scoped_hello() -> &'static str {
    HELLO
}

pub async fn hello_tokio_spawn() -> &'static str {
    tokio::spawn(async { HELLO }).await.unwrap()
}

#[scoped]
pub async fn scoped_hello_tokio_spawn() -> &'static str {
    tokio::spawn(async { HELLO }).await.unwrap()
}

#[scoped]
pub async fn scoped_hello_scope_spawn() -> &'static str {
    scope_spawn!(async { HELLO }).await.unwrap()
}

/// `router` as a server runs it: `axum::serve` turns a `Router<()>` into the
/// service for each connection with `with_state(())`, which makes every
/// handler (and the layers over it) a route once. Called directly with
/// `oneshot`, an unfinalized router would instead build the handler's route —
/// and run every `Layer::layer` over it — on each request.
pub fn finalized(router: Router) -> Router {
    router.with_state(())
}

/// A server root for the layered routers.
pub fn server() -> scope_spawn::ScopeGuard {
    scope_spawn::Scope::builder().name("server").build()
}

/// Sends `GET /` through a clone of `router` and reads the whole body.
pub async fn get_hello(router: &Router) {
    let request = Request::get("/").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap();
    assert_eq!(body.to_bytes().len(), HELLO.len());
}
