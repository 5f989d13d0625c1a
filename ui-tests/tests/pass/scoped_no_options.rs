use axum::{Router, routing::get};
use scope_spawn::{scope_spawn, scoped};

/// A plain handler: its tasks go into the scope `#[scoped]` enters.
#[scoped]
async fn handler() -> &'static str {
    let task = scope_spawn!(async { "ok" });
    task.await.unwrap_or("failed")
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
