//! Over TCP: a graceful shutdown with requests in flight. `axum::serve` stops
//! accepting, the server root's `shutdown` cancels every request scope:
//! guarded tasks finish, the rest are cancelled, stuck ones are aborted at
//! the deadline, and the report counts each exactly once.

mod common;

use std::future::pending;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{client, get_text, serve, within};
use scope_spawn::{CancelReason, Scope, TaskError, TaskHandle};
use tokio::sync::mpsc;
use tower_scope_spawn::ScopeSpawnLayer;

struct InFlight {
    flush: TaskHandle<&'static str>,
    watcher: TaskHandle<()>,
    stuck: TaskHandle<()>,
}

type Probe = mpsc::UnboundedSender<InFlight>;

/// Starts three tasks, then waits until the server shuts down.
async fn work(State(probe): State<Probe>, scope: Scope) -> &'static str {
    let request = scope.clone();
    // Guarded: not cancelled, it sees the cancellation and finishes its job.
    let flush = scope.task().name("flush").guarded().spawn(async move {
        request.cancelled().await;
        "flushed"
    });
    let watcher = scope.spawn_named("watcher", pending::<()>());
    // Guarded and never finishing: only the shutdown deadline stops it.
    let stuck = scope.task().name("stuck").guarded().spawn(pending::<()>());
    probe
        .send(InFlight {
            flush,
            watcher,
            stuck,
        })
        .unwrap();
    scope.cancelled().await;
    "shutting down"
}

#[tokio::test]
async fn shutdown_finishes_guarded_tasks_cancels_the_rest_and_aborts_stuck_ones() {
    let root = Scope::builder().name("server").build();
    let (probe, mut in_flight) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/work", get(work))
        .with_state(probe)
        .layer(ScopeSpawnLayer::new().parent(&root));
    let mut server = serve(app).await;

    let responses: Vec<_> = (0..2)
        .map(|_| {
            let url = server.url("/work");
            tokio::spawn(async move { get_text(&client(), url).await })
        })
        .collect();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        tasks.push(
            within("a handler to start", in_flight.recv())
                .await
                .unwrap(),
        );
    }
    assert_eq!(root.live_tasks(), 6);

    server.begin_shutdown(); // stop accepting; in-flight requests go on
    let report = within("the shutdown", root.shutdown(Duration::from_millis(300))).await;

    assert_eq!(report.completed, 2, "{report}");
    assert_eq!(report.cancelled, 2, "{report}");
    assert_eq!(report.aborted, 2, "{report}");
    assert_eq!(report.panicked, 0, "{report}");
    assert_eq!(report.total(), 6, "{report}");
    assert!(report.deadline_exceeded);

    for response in responses {
        let (status, body) = within("a response", response).await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, "shutting down");
    }
    server.stopped().await;

    for InFlight {
        flush,
        watcher,
        stuck,
    } in tasks
    {
        assert_eq!(flush.await, Ok("flushed"));
        assert_eq!(
            watcher.await,
            Err(TaskError::Cancelled(CancelReason::ParentCancelled))
        );
        assert_eq!(stuck.await, Err(TaskError::Aborted));
    }
}
