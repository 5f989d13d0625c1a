use axum::{Router, routing::get};
use scope_spawn::scoped;

#[scoped(policy = fail_slow)]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
