use axum::{Router, routing::get};
use scope_spawn::{Scope, scoped};

/// `#[scoped]` above `#[axum::debug_handler]`: the check sees the final
/// signature, with the injected extractor.
#[scoped]
#[axum::debug_handler]
async fn handler() -> &'static str {
    "ok"
}

#[scoped(timeout = "1s")]
#[axum::debug_handler]
async fn with_scope(scope: Scope, body: String) -> String {
    format!("{} {body}", scope.name())
}

fn main() {
    let _app: Router = Router::new()
        .route("/", get(handler))
        .route("/scope", get(with_scope));
}
