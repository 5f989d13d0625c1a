//! Shared by the network tests: a real `axum::serve` on 127.0.0.1:0, a real
//! hyper client, and a guard against hangs.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long anything in these tests may take before we call it a hang.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`HANG_GUARD`].
#[track_caller]
pub fn within<F: Future>(what: &'static str, future: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(HANG_GUARD, future).await {
            Ok(out) => out,
            Err(_) => panic!("hang guard: {what} took longer than {HANG_GUARD:?} ({caller})"),
        }
    }
}

/// A running `axum::serve` with graceful shutdown.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Serves `app` on 127.0.0.1 at a free port.
pub async fn serve(app: Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    TestServer {
        addr,
        stop: Some(stop),
        task,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts a graceful shutdown: the server stops accepting connections and
    /// waits for in-flight requests.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `axum::serve` to return.
    pub async fn stopped(mut self) {
        self.begin_shutdown();
        within("axum::serve to return", &mut self.task)
            .await
            .expect("server task")
            .expect("axum::serve");
    }
}

pub type TestClient = Client<HttpConnector, Empty<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends a GET and returns the response head and body stream.
pub async fn fetch(client: &TestClient, url: String) -> http::Response<Incoming> {
    within("a response head", client.get(url.parse().unwrap()))
        .await
        .expect("request")
}

/// Sends a GET and reads the whole body as text.
pub async fn get_text(client: &TestClient, url: String) -> (http::StatusCode, String) {
    let response = fetch(client, url).await;
    let status = response.status();
    let body = within("a response body", response.into_body().collect())
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}
