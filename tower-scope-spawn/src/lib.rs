//! Per-request scopes for tower and axum: every HTTP request gets its own
//! [`scope_spawn::Scope`], so the tasks a handler spawns end with the request —
//! when the response is ready, when the client goes away, or (for streaming
//! responses) when the body has been sent.
//!
//! [`ScopeSpawnLayer`] wraps any `Service<http::Request<B>>` that returns an
//! `http::Response` — an axum `Router`, a tonic server, a hyper service, a
//! `tower::service_fn`. For each request it builds a scope (a child of a
//! server root you give it), puts a [`Scope`] handle into the request
//! extensions, and runs the inner service with that scope as
//! [`Scope::current`], so `scope_spawn!` and `Scope::current()` work in every
//! service and handler below, also in ones that never look at the extensions.
//!
//! | the request … | its scope ends with |
//! | --- | --- |
//! | produced a response (or the inner service returned an error) | [`CancelReason::Completed`] |
//! | was dropped first: the client disconnected, or a timeout middleware gave up | [`CancelReason::Dropped`] |
//! | outlived the layer's [`timeout`](ScopeSpawnLayer::timeout) | [`CancelReason::DeadlineExceeded`] |
//! | was in flight when the server root was shut down | [`CancelReason::ParentCancelled`] |
//!
//! With [`until_body_end`](ScopeSpawnLayer::until_body_end) the scope lives on
//! in the response body ([`ScopeBody`]) until the body has been sent
//! (`Completed`) or dropped early (`Dropped`): tasks that feed a stream run
//! exactly as long as the stream.
//!
//! # Examples
//!
//! ```no_run
//! use std::future::IntoFuture;
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use scope_spawn::{Scope, scope_spawn, scoped};
//! use tower_scope_spawn::ScopeSpawnLayer;
//!
//! #[scoped]
//! async fn report() -> &'static str {
//!     // Runs while the request does; cancelled once the response is ready
//!     // or when the client goes away.
//!     let _prefetch = scope_spawn!("prefetch", async { /* … */ });
//!     "report"
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = Scope::builder().name("server").build();
//! let app = Router::new()
//!     .route("/report", get(report))
//!     .layer(ScopeSpawnLayer::new().parent(&server).timeout(Duration::from_secs(30)));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // Shutting the server scope down also stops axum from accepting.
//! let serve = axum::serve(listener, app).with_graceful_shutdown(server.cancelled());
//! let serve = tokio::spawn(serve.into_future());
//!
//! tokio::signal::ctrl_c().await?;
//! // Cancel every request's tasks, let guarded ones finish, stop stragglers at 5s.
//! let report = server.shutdown(Duration::from_secs(5)).await;
//! println!("shutdown: {report}");
//! serve.await??;
//! # Ok(())
//! # }
//! ```
//!
//! Without axum, the scope is [`Scope::current`] while the inner service runs:
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use scope_spawn::{CancelReason, Scope, TaskError};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_scope_spawn::ScopeSpawnLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let service = ServiceBuilder::new()
//!     .layer(ScopeSpawnLayer::new())
//!     .service(service_fn(move |_req: Request<String>| {
//!         let watcher = Scope::current().unwrap().spawn(std::future::pending::<()>());
//!         let _ = tx.send(watcher);
//!         async { Ok::<_, Infallible>(Response::new(String::from("done"))) }
//!     }));
//!
//! service.oneshot(Request::new(String::new())).await.unwrap();
//! let watcher = rx.recv().await.unwrap();
//! assert_eq!(watcher.await, Err(TaskError::Cancelled(CancelReason::Completed)));
//! # }
//! ```
//!
//! # Features
//!
//! - `axum` (default): makes [`Scope`] an axum extractor (the request's scope,
//!   from the extensions) and adds the [`snapshot`] debug router. Turn default
//!   features off for tonic or plain hyper: the layer itself needs only
//!   tower, `http` and `http-body`.
//!
//! [`CancelReason::Completed`]: scope_spawn::CancelReason::Completed
//! [`CancelReason::Dropped`]: scope_spawn::CancelReason::Dropped
//! [`CancelReason::DeadlineExceeded`]: scope_spawn::CancelReason::DeadlineExceeded
//! [`CancelReason::ParentCancelled`]: scope_spawn::CancelReason::ParentCancelled
#![doc(html_root_url = "https://docs.rs/tower-scope-spawn/0.2.0")]
#![warn(
    missing_docs,
    unreachable_pub,
    rust_2018_idioms,
    missing_debug_implementations
)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod end;
mod future;
mod layer;
mod service;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod snapshot;

pub use body::ScopeBody;
pub use end::{AtBodyEnd, AtResponse, ScopeEnd};
pub use future::ResponseFuture;
pub use layer::ScopeSpawnLayer;
pub use service::ScopeSpawnService;

/// Re-exported from [`scope_spawn`]: the request scope's handle.
pub use scope_spawn::Scope;
