//! Over TCP: a normal request's tasks run until its response is ready — not
//! before — and then end with `Completed`. Handlers use `#[scoped]` and
//! `scope_spawn!`.

mod common;

use std::future::pending;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{client, get_text, serve, within};
use scope_spawn::{CancelReason, Scope, TaskError, TaskHandle, scope_spawn, scoped};
use tokio::sync::{mpsc, oneshot};
use tower_scope_spawn::ScopeSpawnLayer;

struct Waiting {
    scope: Scope,
    watcher: TaskHandle<()>,
    respond: oneshot::Sender<()>,
}

type Probe = mpsc::UnboundedSender<Waiting>;

/// Spawns a watcher into the request scope, then answers when told to.
#[scoped]
async fn report(State(probe): State<Probe>) -> String {
    let scope = Scope::current().expect("#[scoped] runs the handler in its scope");
    let watcher = scope_spawn!("watcher", pending::<()>());
    let (respond, respond_rx) = oneshot::channel();
    probe
        .send(Waiting {
            scope: scope.clone(),
            watcher,
            respond,
        })
        .unwrap();
    respond_rx.await.unwrap();
    format!("report from {}", scope.name())
}

#[tokio::test]
async fn tasks_run_until_the_response_is_ready_then_end_with_completed() {
    let root = Scope::builder().name("server").build();
    let (probe, mut waiting) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/report", get(report))
        .with_state(probe)
        .layer(ScopeSpawnLayer::new().parent(&root));
    let server = serve(app).await;
    let url = server.url("/report");
    let response = tokio::spawn(async move { get_text(&client(), url).await });
    let Waiting {
        scope,
        watcher,
        respond,
    } = within("the handler to start", waiting.recv())
        .await
        .unwrap();

    // The handler waits for our signal: its request scope, and the watcher,
    // are alive — the scope does not end before the response.
    assert_eq!(scope.parent(), Some(&*root));
    assert_eq!(scope.cancel_reason(), None);
    assert!(!watcher.is_finished());
    assert_eq!(root.live_tasks(), 1);

    respond.send(()).unwrap();
    let (status, body) = within("the response", response).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "report from GET /report");
    assert_eq!(
        within("the watcher to settle", watcher).await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    assert_eq!(root.live_tasks(), 0);

    server.stopped().await;
}
