use axum::{Router, routing::get};
use scope_spawn::scoped;

// `#[axum::debug_handler]` expands first and checks the handler with the
// arguments it has as written; `#[scoped]` then adds one. Put `#[scoped]` on
// top (see `pass/scoped_with_debug_handler.rs`), or declare `scope: Scope`.
#[axum::debug_handler]
#[scoped]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
