//! Over TCP: with `until_body_end`, the task that feeds a streaming response
//! runs exactly as long as the stream; without it, the scope ends with the
//! response head.

mod common;

use std::convert::Infallible;
use std::future::pending;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use common::{client, fetch, serve, within};
use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use scope_spawn::{CancelReason, Scope, ScopeGuard, TaskError, TaskHandle};
use tokio::sync::mpsc;
use tower_scope_spawn::{ScopeEnd, ScopeSpawnLayer};

struct Streaming {
    scope: Scope,
    producer: TaskHandle<()>,
    watcher: TaskHandle<()>,
    /// Each message makes the producer send one chunk; dropping it ends the
    /// stream.
    ticks: mpsc::UnboundedSender<()>,
}

type Probe = mpsc::UnboundedSender<Streaming>;

/// Streams one chunk per tick, from a task spawned in the request scope.
async fn stream(State(probe): State<Probe>, scope: Scope) -> Body {
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
    let (ticks, mut tick) = mpsc::unbounded_channel::<()>();
    let producer = scope.spawn_named("producer", async move {
        let mut n = 0;
        while tick.recv().await.is_some() {
            n += 1;
            if sender
                .send_data(format!("tick {n}\n").into())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let watcher = scope.spawn_named("watcher", pending::<()>());
    probe
        .send(Streaming {
            scope,
            producer,
            watcher,
            ticks,
        })
        .unwrap();
    Body::new(body)
}

/// Serves `/stream` behind `layer`, each request a child of a server root.
async fn start<E>(
    layer: ScopeSpawnLayer<E>,
) -> (
    common::TestServer,
    ScopeGuard,
    mpsc::UnboundedReceiver<Streaming>,
)
where
    E: ScopeEnd,
    E::Body<Body>: Send + 'static,
{
    let root = Scope::builder().name("server").build();
    let (probe, streams) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/stream", get(stream))
        .with_state(probe)
        .layer(layer.parent(&root));
    (serve(app).await, root, streams)
}

#[tokio::test]
async fn the_producer_lives_while_the_body_streams_and_stops_when_the_client_drops_it() {
    let (server, root, mut streams) = start(ScopeSpawnLayer::new().until_body_end()).await;

    let response = fetch(&client(), server.url("/stream")).await;
    assert_eq!(response.status(), 200);
    let Streaming {
        scope,
        producer,
        watcher,
        ticks,
    } = within("the handler", streams.recv()).await.unwrap();
    // The handler has returned; the scope lives on in the body.
    assert_eq!(scope.cancel_reason(), None);

    let mut body = response.into_body();
    for n in 1..=2 {
        ticks.send(()).unwrap();
        let frame = within("a chunk", body.frame()).await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), format!("tick {n}\n"));
    }
    assert!(!producer.is_finished());
    assert_eq!(root.live_tasks(), 2);

    drop(body); // the client stops reading and closes the stream

    assert_eq!(
        within("the producer to stop", producer).await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
    assert_eq!(
        within("the watcher to stop", watcher).await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
    assert_eq!(root.live_tasks(), 0);
    server.stopped().await;
}

#[tokio::test]
async fn a_stream_read_to_its_end_ends_the_scope_with_completed() {
    let (server, root, mut streams) = start(ScopeSpawnLayer::new().until_body_end()).await;

    let response = fetch(&client(), server.url("/stream")).await;
    let Streaming {
        scope,
        producer,
        watcher,
        ticks,
    } = within("the handler", streams.recv()).await.unwrap();
    ticks.send(()).unwrap();
    ticks.send(()).unwrap();
    drop(ticks); // the producer sends two chunks and returns: the stream ends

    let body = within("the whole body", response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, "tick 1\ntick 2\n");
    assert_eq!(within("the producer", producer).await, Ok(()));
    assert_eq!(
        within("the watcher to stop", watcher).await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    assert_eq!(root.live_tasks(), 0);
    server.stopped().await;
}

#[tokio::test]
async fn without_until_body_end_the_scope_ends_with_the_response_head() {
    let (server, _root, mut streams) = start(ScopeSpawnLayer::new()).await;

    let response = fetch(&client(), server.url("/stream")).await;
    let Streaming {
        scope, producer, ..
    } = within("the handler", streams.recv()).await.unwrap();
    // The head is out, the body is open — and the producer is already gone,
    // so the stream ends empty.
    assert_eq!(
        within("the producer to stop", producer).await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    let body = within("the body", response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    assert!(body.is_empty());
    server.stopped().await;
}
