//! `ScopeBody` and `until_body_end`, in process: the scope lives as long as
//! the response body, and its end says whether the body was sent.

use std::convert::Infallible;
use std::future::pending;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body as _;
use http_body_util::channel::{Channel, Sender};
use http_body_util::{BodyExt, Empty, Full};
use scope_spawn::{CancelReason, Scope, TaskError, TaskHandle};
use tokio::sync::mpsc;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_scope_spawn::{ScopeBody, ScopeSpawnLayer};

type Streamed = Channel<Bytes, &'static str>;

/// Serves one request whose response body is a channel, with
/// `until_body_end`; returns the body, its sender, the request scope and a
/// task spawned in it that waits forever.
async fn streaming_response() -> (
    ScopeBody<Streamed>,
    Sender<Bytes, &'static str>,
    Scope,
    TaskHandle<()>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ServiceBuilder::new()
        .layer(ScopeSpawnLayer::new().until_body_end())
        .service(service_fn(move |_req: Request<()>| {
            let scope = Scope::current().unwrap();
            let watcher = scope.spawn(pending::<()>());
            let (sender, body) = Streamed::new(4);
            tx.send((sender, scope, watcher)).unwrap();
            async { Ok::<_, Infallible>(Response::new(body)) }
        }));
    let response = service.oneshot(Request::new(())).await.unwrap();
    let (sender, scope, watcher) = rx.recv().await.unwrap();
    (response.into_body(), sender, scope, watcher)
}

#[tokio::test]
async fn until_body_end_keeps_the_scope_while_the_body_streams_then_completes() {
    let (mut body, mut sender, scope, watcher) = streaming_response().await;
    assert_eq!(body.scope(), Some(&scope));
    assert_eq!(
        scope.cancel_reason(),
        None,
        "the response head is out; the body is not"
    );

    sender.send_data(Bytes::from("one")).await.unwrap();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "one");
    assert_eq!(scope.cancel_reason(), None);
    assert!(!watcher.is_finished());

    drop(sender); // the stream ends
    assert!(body.frame().await.is_none());
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    assert_eq!(body.scope(), None);
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
}

#[tokio::test]
async fn dropping_the_body_before_its_end_ends_the_scope_with_dropped() {
    let (mut body, mut sender, scope, watcher) = streaming_response().await;
    sender.send_data(Bytes::from("one")).await.unwrap();
    body.frame().await.unwrap().unwrap();

    drop(body); // the client stopped reading
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
}

#[tokio::test]
async fn a_body_error_ends_the_scope_with_dropped() {
    let (mut body, sender, scope, watcher) = streaming_response().await;
    sender.abort("upstream failed");
    assert_eq!(body.frame().await.unwrap().unwrap_err(), "upstream failed");
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
}

#[tokio::test]
async fn an_empty_body_completes_the_scope_with_the_response() {
    let guard = Scope::new();
    let scope = guard.clone();
    let body = ScopeBody::with_guard(Empty::<Bytes>::new(), guard);
    // hyper never polls a body that is already at its end.
    assert!(body.is_end_stream());
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
}

#[tokio::test]
async fn a_body_that_knows_its_end_completes_after_its_last_frame() {
    let guard = Scope::new();
    let scope = guard.clone();
    let mut body = ScopeBody::with_guard(Full::new(Bytes::from("all of it")), guard);
    assert_eq!(body.size_hint().exact(), Some(9));
    body.frame().await.unwrap().unwrap();
    // hyper stops here, without polling for the `None`.
    assert!(body.is_end_stream());
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
}

#[tokio::test]
async fn by_default_the_response_body_is_the_inner_services_own() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ServiceBuilder::new()
        .layer(ScopeSpawnLayer::new())
        .service(service_fn(move |_req: Request<()>| {
            tx.send(Scope::current().unwrap()).unwrap();
            async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hi")))) }
        }));
    let response = service.oneshot(Request::new(())).await.unwrap();
    let scope = rx.recv().await.unwrap();
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));

    // The same type, not a wrapper: axum does not box it again.
    let body: Full<Bytes> = response.into_body();
    assert_eq!(body.size_hint().exact(), Some(2));
    assert_eq!(body.collect().await.unwrap().to_bytes(), "hi");
}
