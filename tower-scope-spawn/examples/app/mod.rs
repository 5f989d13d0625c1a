//! The example app, shared by `demo.rs` and `server.rs`: a few routes whose
//! handlers spawn tasks into their request's scope, and a supervisor that
//! reports how each task ended.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::channel::Channel;
use scope_spawn::{
    CancelReason, Scope, TaskError, TaskHandle, scope_spawn, scope_spawn_guarded, scoped,
};
use tokio::sync::oneshot;
use tokio::time::sleep;
use tower_scope_spawn::ScopeSpawnLayer;

/// Where the app reports what happens to its tasks.
pub type Log = Arc<dyn Fn(String) + Send + Sync>;

#[derive(Clone)]
pub struct App {
    log: Log,
}

/// The message of the panic `/flaky` provokes on purpose.
pub const EXPECTED_PANIC: &str = "corrupt upload: bad magic bytes";

/// The routes, each request in its own scope under `root`. `/ticks` streams,
/// so its scope lasts until the body has been sent (`until_body_end`).
pub fn router(root: &Scope, log: Log) -> Router {
    let per_request = ScopeSpawnLayer::new()
        .parent(root)
        .timeout(Duration::from_secs(60));
    let api = Router::new()
        .route("/report", get(report))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky))
        .route("/export", get(export))
        .route("/health", get(|| async { "ok\n" }))
        .layer(per_request.clone());
    let streams = Router::new()
        .route("/ticks", get(ticks))
        .layer(per_request.until_body_end());
    api.merge(streams).with_state(App { log })
}

impl App {
    fn log(&self, line: String) {
        (self.log)(line)
    }

    /// Hands a task's handle to a supervisor that reports how the task ended
    /// and forwards its result. The supervisor is a plain `tokio::spawn`, on
    /// purpose outside the request's scope: it must outlive the request to
    /// see its tasks end.
    fn supervise<T: Send + 'static>(
        &self,
        handle: TaskHandle<T>,
    ) -> oneshot::Receiver<Result<T, TaskError>> {
        let request = Scope::current().map_or_else(String::new, |s| s.name().to_owned());
        let name = handle.name().unwrap_or("task").to_owned();
        let app = self.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let result = handle.await;
            let outcome = match &result {
                Ok(_) => "completed".to_owned(),
                Err(TaskError::Cancelled(reason)) => format!("cancelled: {}", explain(reason)),
                Err(TaskError::Panicked(message)) => format!("panicked: {message}"),
                Err(TaskError::Aborted) => "aborted at the shutdown deadline".to_owned(),
                Err(other) => other.to_string(),
            };
            app.log(format!("{request}: `{name}` {outcome}"));
            let _ = tx.send(result);
        });
        rx
    }
}

/// A cancellation reason, for a newcomer.
pub fn explain(reason: &CancelReason) -> String {
    match reason {
        CancelReason::Completed => "Completed (its request finished)".to_owned(),
        CancelReason::Dropped => "Dropped (the client went away)".to_owned(),
        CancelReason::ParentCancelled => "ParentCancelled (the server is shutting down)".to_owned(),
        CancelReason::DeadlineExceeded => "DeadlineExceeded (the request took too long)".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Two lookups in parallel; the answer needs only the prices, so the news
/// lookup is cancelled as soon as the response is ready.
#[scoped]
async fn report(State(app): State<App>) -> String {
    let prices = app.supervise(scope_spawn!("fetch-prices", async {
        sleep(Duration::from_millis(20)).await;
        42
    }));
    let _news = app.supervise(scope_spawn!("fetch-news", async {
        sleep(Duration::from_secs(10)).await;
        "news"
    }));
    match prices.await {
        Ok(Ok(prices)) => format!("report: {prices} prices\n"),
        _ => "report: no prices\n".to_owned(),
    }
}

/// A slow query, and an audit record that must be written even if the client
/// leaves (a guarded task).
#[scoped]
async fn slow(State(app): State<App>, scope: Scope) -> String {
    let rows = app.supervise(scope_spawn!("slow-query", async {
        sleep(Duration::from_secs(30)).await;
        1234
    }));
    let _audit = app.supervise(scope_spawn_guarded!("audit", async {
        sleep(Duration::from_millis(200)).await;
    }));
    app.log(format!(
        "{}: spawned `slow-query` and a guarded `audit`",
        scope.name()
    ));
    match rows.await {
        Ok(Ok(rows)) => format!("{rows} rows\n"),
        _ => "the query was cancelled\n".to_owned(),
    }
}

/// A streaming body fed by a task: one line every 200ms, for as long as the
/// client reads.
#[scoped]
async fn ticks(State(app): State<App>, scope: Scope) -> Body {
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
    let _ticker = app.supervise(scope_spawn!("ticker", async move {
        for n in 1.. {
            if sender
                .send_data(format!("tick {n}\n").into())
                .await
                .is_err()
            {
                break;
            }
            sleep(Duration::from_millis(200)).await;
        }
    }));
    app.log(format!(
        "{}: spawned `ticker`, which feeds the response body",
        scope.name()
    ));
    Body::new(body)
}

/// A task that panics: the scope catches it and the handler answers 500.
#[scoped]
async fn flaky(State(app): State<App>) -> (StatusCode, String) {
    let upload: Vec<u8> = Vec::new();
    let parsed = app.supervise(scope_spawn!("parse-upload", async move {
        if !upload.starts_with(b"PK") {
            panic!("{EXPECTED_PANIC}");
        }
        upload.len()
    }));
    match parsed.await {
        Ok(Ok(len)) => (StatusCode::OK, format!("parsed {len} bytes\n")),
        Ok(Err(err)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "lost\n".to_owned()),
    }
}

/// Answers at once and leaves a long guarded upload behind: it outlives the
/// request, and only the shutdown deadline stops it.
#[scoped]
async fn export(State(app): State<App>, scope: Scope) -> (StatusCode, &'static str) {
    let _upload = app.supervise(scope_spawn_guarded!("upload", async {
        sleep(Duration::from_secs(600)).await;
    }));
    app.log(format!(
        "{}: spawned a guarded `upload` (takes 10 minutes)",
        scope.name()
    ));
    (StatusCode::ACCEPTED, "export started\n")
}

/// `/flaky` panics on purpose, and the app reports that panic itself: keep
/// the default hook for every other panic.
pub fn quiet_expected_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if message != Some(EXPECTED_PANIC) {
            default_hook(info);
        }
    }));
}
