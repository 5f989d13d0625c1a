//! Over TCP: a task that panics inside a handler is caught and reported; the
//! server goes on serving.

mod common;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{client, get_text, serve};
use scope_spawn::{Scope, TaskError};
use tower_scope_spawn::ScopeSpawnLayer;

async fn flaky(scope: Scope) -> (StatusCode, String) {
    let task = scope.spawn_named("flaky", async {
        if true {
            panic!("boom");
        }
    });
    match task.await {
        Err(TaskError::Panicked(message)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("task panicked: {message}"),
        ),
        other => (StatusCode::OK, format!("{other:?}")),
    }
}

#[tokio::test]
async fn a_panicking_task_does_not_take_the_server_down() {
    let root = Scope::builder().name("server").build();
    let app = Router::new()
        .route("/flaky", get(flaky))
        .route("/ok", get(|| async { "still here" }))
        .layer(ScopeSpawnLayer::new().parent(&root));
    let server = serve(app).await;
    let client = client();

    let (status, body) = get_text(&client, server.url("/flaky")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "task panicked: boom");

    // The same connection (pooled) and a new request: both fine.
    let (status, body) = get_text(&client, server.url("/ok")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "still here");
    let (status, _) = get_text(&client, server.url("/flaky")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    assert_eq!(root.live_tasks(), 0);
    server.stopped().await;
}
