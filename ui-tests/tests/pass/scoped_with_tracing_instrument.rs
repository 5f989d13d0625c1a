use axum::extract::Path;
use axum::{Router, routing::get};
use scope_spawn::{Scope, scoped};

/// `#[tracing::instrument]` works above `#[scoped]` (the span is entered
/// inside the handler's scope)...
#[tracing::instrument]
#[scoped(timeout = "1s")]
async fn above(Path(id): Path<u32>, body: String) -> String {
    format!("{id} {body}")
}

/// ...and below it: plain parameters keep their names, so `skip` and the
/// recorded fields refer to them as written.
#[scoped]
#[tracing::instrument(skip(scope))]
async fn below(scope: Scope, body: String) -> String {
    format!("{} {body}", scope.name())
}

fn main() {
    let _app: Router = Router::new()
        .route("/above/{id}", get(above))
        .route("/below", get(below));
}
