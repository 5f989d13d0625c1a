//! Per-request overhead in process (case 4 of `BENCHMARKS.md`): an axum
//! `Router` on a hello handler, called with `tower::ServiceExt::oneshot` (the
//! router cloned per call) — bare, under `ScopeSpawnLayer` with a `#[scoped]`
//! handler, and under tower-http's `TimeoutLayer`; and one awaited
//! `scope_spawn!` against one awaited `tokio::spawn` inside the handler.
//!
//! ```sh
//! cargo bench -p tower-scope-spawn --bench requests
//! SCOPE_SPAWN_BENCH_QUICK=1 cargo bench -p tower-scope-spawn --bench requests
//! ```
//!
//! Each iteration sends a batch of 1,000 requests one after another from a
//! task on a worker of a 2-worker multi-thread runtime, and reads every
//! response body to its end.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use divan::Bencher;
use http::StatusCode;
use tokio::runtime::Runtime;
use tower_http::timeout::TimeoutLayer;
use tower_scope_spawn::ScopeSpawnLayer;

mod routes;
use routes::*;

fn quick() -> bool {
    std::env::var_os("SCOPE_SPAWN_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

fn main() {
    let mut divan = divan::Divan::from_args();
    if quick() {
        divan = divan.sample_count(3).sample_size(1);
    }
    divan.main();
}

/// Requests per iteration.
fn batch() -> usize {
    if quick() { 100 } else { 1_000 }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn timeout_layer() -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30))
}

/// Times batches of `GET /` through `router`.
fn bench_router(bencher: Bencher, router: Router) {
    let (rt, n, router) = (runtime(), batch(), finalized(router));
    bencher.bench_local(|| {
        let router = router.clone();
        rt.block_on(async move {
            tokio::spawn(async move {
                for _ in 0..n {
                    get_hello(&router).await;
                }
            })
            .await
            .unwrap()
        })
    });
}

/// A hello handler, with the layers compared.
mod request {
    use super::*;

    #[divan::bench(sample_count = 200)]
    fn bare(bencher: Bencher) {
        bench_router(bencher, Router::new().route("/", get(hello)));
    }

    /// tower-http's `TimeoutLayer` (30 s): a familiar layer of comparable job.
    #[divan::bench(sample_count = 200)]
    fn timeout_layer(bencher: Bencher) {
        bench_router(
            bencher,
            Router::new()
                .route("/", get(hello))
                .layer(super::timeout_layer()),
        );
    }

    /// `ScopeSpawnLayer::new().parent(&root)` and a `#[scoped]` handler.
    #[divan::bench(sample_count = 200)]
    fn scope_layer_scoped(bencher: Bencher) {
        let root = server();
        bench_router(
            bencher,
            Router::new()
                .route("/", get(scoped_hello))
                .layer(ScopeSpawnLayer::new().parent(&root)),
        );
    }

    /// The layer alone, over a plain handler.
    #[divan::bench(sample_count = 200)]
    fn scope_layer_only(bencher: Bencher) {
        let root = server();
        bench_router(
            bencher,
            Router::new()
                .route("/", get(hello))
                .layer(ScopeSpawnLayer::new().parent(&root)),
        );
    }

    /// `#[scoped]` alone: without the layer it builds a scope per call.
    #[divan::bench(sample_count = 200)]
    fn scoped_only(bencher: Bencher) {
        bench_router(bencher, Router::new().route("/", get(scoped_hello)));
    }
}

/// One awaited spawn per request inside the handler.
mod spawn_in_handler {
    use super::*;

    /// A bare router; the handler awaits one `tokio::spawn`.
    #[divan::bench(sample_count = 200)]
    fn tokio_spawn_bare(bencher: Bencher) {
        bench_router(bencher, Router::new().route("/", get(hello_tokio_spawn)));
    }

    /// Under the layer; the `#[scoped]` handler awaits one `tokio::spawn`.
    #[divan::bench(sample_count = 200)]
    fn tokio_spawn_layer_scoped(bencher: Bencher) {
        let root = server();
        bench_router(
            bencher,
            Router::new()
                .route("/", get(scoped_hello_tokio_spawn))
                .layer(ScopeSpawnLayer::new().parent(&root)),
        );
    }

    /// Under the layer; the `#[scoped]` handler awaits one `scope_spawn!`.
    #[divan::bench(sample_count = 200)]
    fn scope_spawn_layer_scoped(bencher: Bencher) {
        let root = server();
        bench_router(
            bencher,
            Router::new()
                .route("/", get(scoped_hello_scope_spawn))
                .layer(ScopeSpawnLayer::new().parent(&root)),
        );
    }
}
