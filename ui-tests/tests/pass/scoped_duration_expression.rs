use std::time::Duration;

use axum::{Router, routing::get};
use scope_spawn::scoped;

const TIMEOUT: Duration = Duration::from_millis(1500);

#[scoped(timeout = Duration::from_secs(2))]
async fn call() -> &'static str {
    "ok"
}

#[scoped(timeout = TIMEOUT)]
async fn constant() -> &'static str {
    "ok"
}

fn main() {
    let _app: Router = Router::new()
        .route("/call", get(call))
        .route("/constant", get(constant));
}
