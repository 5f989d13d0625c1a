//! Over TCP: a client that hangs up mid-request ends its request's scope with
//! `Dropped`, and nothing it started is left running — except guarded work.

mod common;

use std::future::pending;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{serve, within};
use scope_spawn::{CancelReason, Scope, TaskError, TaskHandle};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tower_scope_spawn::ScopeSpawnLayer;

struct Started {
    scope: Scope,
    watcher: TaskHandle<()>,
    audit: TaskHandle<&'static str>,
    finish_audit: oneshot::Sender<()>,
}

type Probe = mpsc::UnboundedSender<Started>;

/// Starts a watcher and a guarded audit write, then never answers.
async fn slow(State(probe): State<Probe>, scope: Scope) -> &'static str {
    let watcher = scope.spawn_named("watcher", pending::<()>());
    let (finish_audit, finish) = oneshot::channel::<()>();
    let audit = scope.task().name("audit").guarded().spawn(async move {
        let _ = finish.await;
        "audited"
    });
    probe
        .send(Started {
            scope: scope.clone(),
            watcher,
            audit,
            finish_audit,
        })
        .unwrap();
    pending().await
}

#[tokio::test]
async fn a_client_disconnect_cancels_the_request_tasks_with_dropped() {
    let root = Scope::builder().name("server").build();
    let (probe, mut started) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/slow", get(slow))
        .with_state(probe)
        .layer(ScopeSpawnLayer::new().parent(&root));
    let server = serve(app).await;

    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(b"GET /slow HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let Started {
        scope,
        watcher,
        audit,
        finish_audit,
    } = within("the handler to start", started.recv())
        .await
        .unwrap();
    assert_eq!(scope.name(), "GET /slow");
    assert_eq!(scope.cancel_reason(), None);
    assert_eq!(root.live_tasks(), 2);

    drop(client); // the client hangs up while the handler waits

    assert_eq!(
        within("the watcher to be cancelled", watcher).await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));

    // The guarded audit write is still running, and still counted.
    assert!(!audit.is_finished());
    assert_eq!(root.live_tasks(), 1);
    finish_audit.send(()).unwrap();
    assert_eq!(within("the audit write", audit).await, Ok("audited"));
    assert_eq!(root.live_tasks(), 0);

    server.stopped().await;
}
