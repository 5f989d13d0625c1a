use axum::extract::Path;
use axum::{Router, routing::get};
use scope_spawn::{Scope, scope_spawn, scoped};

/// A declared `Scope` takes the place of the injected extractor.
#[scoped]
async fn first(scope: Scope, Path(id): Path<u32>) -> String {
    let task = scope_spawn!(&scope, "double", async move { id * 2 });
    format!("{}", task.await.unwrap_or(0))
}

/// Anywhere among the parts extractors, and by any path.
#[scoped(timeout = "5s")]
async fn middle(Path(id): Path<u32>, scope: scope_spawn::Scope, body: String) -> String {
    let _ = scope.name();
    format!("{id} {body}")
}

fn main() {
    let _app: Router = Router::new()
        .route("/first/{id}", get(first))
        .route("/middle/{id}", get(middle).post(middle));
}
