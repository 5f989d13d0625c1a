//! `#[scoped]` handlers in a router, with and without the layer, wherever
//! the scope sits among their arguments: the only one (injected), the last
//! one (declared, extracted from the whole request), or before others
//! (declared, extracted from the request's parts).

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use scope_spawn::{Scope, scope_spawn, scoped};
use tower::ServiceExt;
use tower_scope_spawn::ScopeSpawnLayer;

/// Only the injected scope: it is the whole request's extractor.
#[scoped]
async fn only() -> String {
    let scope = Scope::current().expect("#[scoped] runs the handler in its scope");
    // A task spawned here lands in the same scope.
    let spawned_in = scope_spawn!(async { Scope::current().unwrap().id() })
        .await
        .unwrap();
    assert_eq!(spawned_in, scope.id());
    scope.name().to_owned()
}

/// The declared scope last, after a parts extractor.
#[scoped]
async fn last(Path(id): Path<u32>, scope: Scope) -> String {
    assert_eq!(Scope::current(), Some(scope.clone()));
    format!("{} {id}", scope.name())
}

/// The declared scope first, before a parts extractor.
#[scoped]
async fn first(scope: Scope, Path(id): Path<u32>) -> String {
    assert_eq!(Scope::current(), Some(scope.clone()));
    format!("{} {id}", scope.name())
}

fn routes() -> Router {
    Router::new()
        .route("/only", get(only))
        .route("/last/{id}", get(last))
        .route("/first/{id}", get(first))
}

async fn get_text(router: &Router, uri: &str) -> String {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn under_the_layer_every_scope_position_gets_the_request_scope() {
    let router = routes().layer(ScopeSpawnLayer::new());
    assert_eq!(get_text(&router, "/only").await, "GET /only");
    assert_eq!(get_text(&router, "/last/7").await, "GET /last/7 7");
    assert_eq!(get_text(&router, "/first/8").await, "GET /first/8 8");
}

#[tokio::test]
async fn without_the_layer_every_scope_position_gets_the_handlers_own_scope() {
    let router = routes();
    assert_eq!(get_text(&router, "/only").await, "only");
    assert_eq!(get_text(&router, "/last/7").await, "last 7");
    assert_eq!(get_text(&router, "/first/8").await, "first 8");
}

#[tokio::test]
async fn a_request_scope_put_in_the_extensions_by_other_middleware_is_entered_by_the_handler() {
    // Nothing makes this scope current around the handler, as the layer
    // would: the handler's own run has to enter it.
    let scope = Scope::builder().name("from an extension").build();
    let router = routes().layer(axum::Extension(Scope::clone(&scope)));
    assert_eq!(get_text(&router, "/only").await, "from an extension");
    assert_eq!(get_text(&router, "/last/7").await, "from an extension 7");
    assert_eq!(get_text(&router, "/first/8").await, "from an extension 8");
}
