use axum::{Router, routing::get};
use scope_spawn::{Scope, scoped};

#[scoped]
async fn handler(scope: Scope, other: scope_spawn::Scope) -> &'static str {
    let _ = (scope, other);
    "ok"
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
