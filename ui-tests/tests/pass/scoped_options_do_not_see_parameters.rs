use std::time::Duration;

use axum::{Router, routing::get};
use scope_spawn::scoped;

fn timeout() -> Duration {
    Duration::from_secs(3)
}

fn name() -> &'static str {
    "from-a-function"
}

/// Option expressions are evaluated outside the handler's parameters, so a
/// parameter does not shadow what they name.
#[scoped(name = name(), timeout = timeout())]
async fn handler(name: axum::http::Method, timeout: String) -> String {
    format!("{name} {timeout}")
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
