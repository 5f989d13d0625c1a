use axum::{Router, routing::get};
use scope_spawn::{Scope, scoped};

/// `#[axum::debug_handler]` above `#[scoped]` works when the handler declares
/// its `Scope`: the number of arguments does not change, so the call
/// `debug_handler` generates still fits. (Without a declared `Scope`, see
/// `fail/debug_handler_above_scoped.rs`: put `#[scoped]` on top.)
#[axum::debug_handler]
#[scoped(timeout = "1s")]
async fn with_scope(scope: Scope, body: String) -> String {
    format!("{} {body}", scope.name())
}

fn main() {
    let _app: Router = Router::new().route("/", get(with_scope));
}
