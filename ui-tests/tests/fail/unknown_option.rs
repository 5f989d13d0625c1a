use axum::{Router, routing::get};
use scope_spawn::scoped;

#[scoped(timout = "2s")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {
    // The function is still emitted, so the route does not fail as well.
    let _app: Router = Router::new().route("/", get(handler));
}
