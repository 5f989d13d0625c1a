//! A debug endpoint that shows what a scope tree is running (feature `axum`).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use scope_spawn::Scope;
//! use tower_scope_spawn::{ScopeSpawnLayer, snapshot};
//!
//! # async fn run() {
//! let server = Scope::builder().name("server").build();
//! let app = Router::new()
//!     .route("/report", get(|scope: Scope| async move {
//!         let fetch = scope.spawn_named("fetch", async {
//!             tokio::time::sleep(std::time::Duration::from_secs(2)).await;
//!             "prices"
//!         });
//!         fetch.await.unwrap_or("none")
//!     }))
//!     .nest("/debug/scopes", snapshot::router(server.clone()))
//!     .layer(ScopeSpawnLayer::new().parent(&server));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! Then, while a request to `/report` waits for its task, `curl
//! localhost:3000/debug/scopes` prints the tree (the request for the tree
//! spawns nothing, and a request scope shows once it has had a task):
//!
//! ```text
//! scope server #1 (running, 1 live, age 12.41s)
//! └── scope GET /report #9 (running, 1 live, age 1.20s)
//!     └── task fetch #4 (running 1.20s)
//! ```

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scope_spawn::Scope;

/// A router that serves a [snapshot](Scope::snapshot) of `root` at its own
/// root path (`/`), meant to be [nested](Router::nest) at a debug path.
///
/// The query parameter `format` picks the rendering:
///
/// | request | response |
/// | --- | --- |
/// | `GET /` or `GET /?format=text` | the ASCII tree, `text/plain` |
/// | `GET /?format=mermaid` | a Mermaid `graph TD`, `text/plain` (paste it into a Mermaid renderer) |
/// | `GET /?format=json` | the snapshot as JSON, `application/json` |
///
/// Any other format is answered with `400 Bad Request`. The snapshot shows
/// task names and scope names (request paths, by default): do not expose it
/// publicly.
///
/// # Examples
///
/// ```
/// use axum::body::Body;
/// use http::Request;
/// use http_body_util::BodyExt;
/// use scope_spawn::Scope;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = Scope::builder().name("server").build();
/// let _ticker = server.spawn_named("ticker", std::future::pending::<()>());
///
/// let router: axum::Router = tower_scope_spawn::snapshot::router(server.clone());
/// let request = Request::get("/?format=json").body(Body::empty()).unwrap();
/// let response = router.oneshot(request).await.unwrap();
/// let json = response.into_body().collect().await.unwrap().to_bytes();
/// let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
/// assert_eq!(json["name"], "server");
/// assert_eq!(json["tasks"][0]["name"], "ticker");
/// # }
/// ```
pub fn router<S>(root: Scope) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(snapshot_handler))
        .with_state(root)
}

async fn snapshot_handler(State(root): State<Scope>, RawQuery(query): RawQuery) -> Response {
    const TEXT: &str = "text/plain; charset=utf-8";
    let format = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "format")
        .map_or("text", |(_, value)| value);
    match format {
        "text" | "" => {
            ([(header::CONTENT_TYPE, TEXT)], root.snapshot().to_string()).into_response()
        }
        "mermaid" => ([(header::CONTENT_TYPE, TEXT)], root.snapshot().to_mermaid()).into_response(),
        "json" => match serde_json::to_string_pretty(&root.snapshot()) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(err) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not serialize the snapshot: {err}\n"),
            )
                .into_response(),
        },
        other => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, TEXT)],
            format!("unknown format `{other}`: expected `text`, `mermaid` or `json`\n"),
        )
            .into_response(),
    }
}
