use axum::{Router, routing::get};
use scope_spawn::scoped;

#[scoped(name = "get_user", timeout = "2s", limit = 8, policy = fail_fast)]
async fn get_user() -> &'static str {
    "ok"
}

#[scoped(timeout = "250ms", policy = supervise)]
async fn short() -> &'static str {
    "ok"
}

#[scoped(timeout = "1m", policy = collect_all,)]
async fn long() -> &'static str {
    "ok"
}

const LIMIT: usize = 4;

fn computed_name() -> String {
    String::from("computed")
}

#[scoped(name = computed_name(), limit = LIMIT, policy = scope_spawn::Policy::FailFast)]
async fn computed() -> &'static str {
    "ok"
}

fn main() {
    let _app: Router = Router::new()
        .route("/user", get(get_user))
        .route("/short", get(short))
        .route("/long", get(long))
        .route("/computed", get(computed));
}
