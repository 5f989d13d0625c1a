//! A tour of tower-scope-spawn in a few seconds: a real axum server, a real
//! client, and what happens to each request's tasks.
//!
//! ```text
//! cargo run -p tower-scope-spawn --example demo
//! ```

mod app;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scope_spawn::Scope;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Anything here taking longer than this is a bug in the demo.
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() {
    app::quiet_expected_panics();
    println!("tower-scope-spawn demo");
    println!("======================");
    println!("Every request gets its own scope, a child of the server's root scope.");
    println!("The tasks a handler spawns end with its request: when the response is");
    println!("ready, when the client goes away, or when the server shuts down.");

    // The server: every request scope is a child of `root`.
    let root = Scope::builder().name("server").build();
    let (log, events) = mpsc::unbounded_channel::<String>();
    let mut events = Events(events);
    let app = app::router(&root, Arc::new(move |line| drop(log.send(line))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Shutting the root scope down also stops axum from accepting.
    let serve = axum::serve(listener, app).with_graceful_shutdown(root.cancelled());
    let server = tokio::spawn(serve.into_future());
    println!("\nserver listening on http://{addr}");

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let url = |path: &str| format!("http://{addr}{path}");

    heading("1. A normal request");
    client_says("GET /report");
    let (status, body) = get_text(&client, url("/report")).await;
    events.show(2).await; // fetch-prices completed, fetch-news cancelled
    client_says(&format!("{status} {body:?}"));

    heading("2. The client hangs up mid-request");
    client_says("GET /slow, then hangs up before the answer");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /slow HTTP/1.1\r\nhost: demo\r\n\r\n")
        .await
        .unwrap();
    events.show(1).await; // the handler started
    drop(conn);
    events.show(2).await; // slow-query cancelled at once, audit completes later
    note("`audit` is guarded: it finished although its request was gone.");

    heading("3. A streaming response (this route's layer has `.until_body_end()`)");
    client_says("GET /ticks");
    let response = get(&client, url("/ticks")).await;
    events.show(1).await;
    let mut body = response.into_body();
    for _ in 0..3 {
        let chunk = read_chunk(&mut body).await;
        client_says(&format!("got {chunk:?}"));
    }
    client_says("closes the stream");
    drop(body);
    events.show(1).await;
    note("The ticker ran exactly as long as the stream was read.");

    heading("4. A task panics");
    client_says("GET /flaky");
    let (status, body) = get_text(&client, url("/flaky")).await;
    events.show(1).await;
    client_says(&format!("{status} {body:?}"));
    let (status, body) = get_text(&client, url("/health")).await;
    client_says(&format!(
        "GET /health: {status} {body:?} — the server is fine"
    ));

    heading("5. Graceful shutdown, with requests in flight");
    client_says("GET /export");
    let (status, body) = get_text(&client, url("/export")).await;
    events.show(1).await;
    client_says(&format!("{status} {body:?}"));
    client_says("GET /slow");
    let slow = {
        let (client, url) = (client.clone(), url("/slow"));
        tokio::spawn(async move { get_text(&client, url).await })
    };
    events.show(1).await;
    client_says("GET /ticks");
    let response = get(&client, url("/ticks")).await;
    events.show(1).await;
    let mut body = response.into_body();
    let chunk = read_chunk(&mut body).await;
    client_says(&format!("got {chunk:?}, and keeps reading"));
    let stream = tokio::spawn(async move {
        let mut chunks = 1;
        while let Some(Ok(_)) = body.frame().await {
            chunks += 1;
        }
        chunks
    });

    println!("\n   What the server runs right now — root.snapshot():\n");
    for line in root.snapshot().to_string().lines() {
        println!("     {line}");
    }

    println!();
    let server_scope = Scope::clone(&root); // a handle, to look after the shutdown
    server_says("root.shutdown(2s): stop accepting, cancel every request scope,");
    server_says("give guarded tasks until the deadline, then abort them");
    let report = tokio::time::timeout(PATIENCE, root.shutdown(Duration::from_secs(2)))
        .await
        .expect("the shutdown to finish");
    events.show_sorted(4).await;
    let (status, body) = tokio::time::timeout(PATIENCE, slow)
        .await
        .expect("the slow request to be answered")
        .unwrap();
    client_says(&format!("GET /slow: {status} {body:?}"));
    let chunks = tokio::time::timeout(PATIENCE, stream)
        .await
        .expect("the stream to end")
        .unwrap();
    client_says(&format!(
        "GET /ticks: the stream ended after {chunks} chunk(s)"
    ));
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("axum::serve to return")
        .unwrap()
        .unwrap();

    heading("Shutdown report");
    println!(
        "   completed {}  (guarded `audit` finished)",
        report.completed
    );
    println!(
        "   cancelled {}  (`slow-query`, `ticker`)",
        report.cancelled
    );
    println!(
        "   aborted   {}  (guarded `upload` hit the deadline)",
        report.aborted
    );
    println!("   panicked  {}", report.panicked);
    println!("   took      {:.1?}", report.elapsed);
    println!(
        "\nlive tasks under `server` now: {}",
        server_scope.live_tasks()
    );
}

/// The lines the app logs, shown in the order they happen.
struct Events(mpsc::UnboundedReceiver<String>);

impl Events {
    async fn next(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.0.recv())
            .await
            .expect("an event the demo expects")
            .expect("the app is running")
    }

    /// Shows the next `n` events.
    async fn show(&mut self, n: usize) {
        for _ in 0..n {
            server_says(&self.next().await);
        }
    }

    /// Shows the next `n` events, sorted (some happen at the same instant).
    async fn show_sorted(&mut self, n: usize) {
        let mut lines = Vec::new();
        for _ in 0..n {
            lines.push(self.next().await);
        }
        lines.sort();
        for line in lines {
            server_says(&line);
        }
    }
}

fn heading(title: &str) {
    println!("\n{title}");
}

fn client_says(line: &str) {
    println!("   client  {line}");
}

fn server_says(line: &str) {
    println!("   server  {line}");
}

fn note(line: &str) {
    println!("           ({line})");
}

async fn get(client: &HttpClient, url: String) -> http::Response<Incoming> {
    tokio::time::timeout(PATIENCE, client.get(url.parse().unwrap()))
        .await
        .expect("a response")
        .expect("a response")
}

async fn get_text(client: &HttpClient, url: String) -> (http::StatusCode, String) {
    let response = get(client, url).await;
    let status = response.status();
    let body = tokio::time::timeout(PATIENCE, response.into_body().collect())
        .await
        .expect("a body")
        .expect("a body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).trim_end().to_owned())
}

async fn read_chunk(body: &mut Incoming) -> String {
    let frame = tokio::time::timeout(PATIENCE, body.frame())
        .await
        .expect("a chunk")
        .expect("the stream goes on")
        .expect("a chunk");
    let data = frame.into_data().unwrap_or_default();
    String::from_utf8_lossy(&data).trim_end().to_owned()
}
