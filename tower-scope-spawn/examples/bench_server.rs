//! The server of case 5 of `BENCHMARKS.md` (HTTP over loopback): one process,
//! one runtime, the same hello route on three ports — bare, under
//! `ScopeSpawnLayer` with a `#[scoped]` handler, and under tower-http's
//! `TimeoutLayer` — so that a load generator can compare them one at a time.
//! `tower-scope-spawn/benches/http.sh` drives it with wrk.
//!
//! ```text
//! cargo run --release -p tower-scope-spawn --example bench_server
//! cargo run --release -p tower-scope-spawn --example bench_server -- BARE SCOPED TIMEOUT
//! ```
//!
//! The addresses default to 127.0.0.1:3101, :3102 and :3103.
//! `BENCH_SERVER_WORKERS` sets the runtime's worker threads (default: one per
//! CPU). It serves until killed.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use scope_spawn::{Scope, scoped};
use tower_http::timeout::TimeoutLayer;
use tower_scope_spawn::ScopeSpawnLayer;

const HELLO: &str = "Hello, World!";

async fn hello() -> &'static str {
    HELLO
}

#[scoped]
async fn scoped_hello() -> &'static str {
    HELLO
}

fn main() -> std::io::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = std::env::var("BENCH_SERVER_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        builder.worker_threads(workers);
    }
    builder.enable_all().build()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let mut addrs = std::env::args().skip(1);
    let mut addr = |default: &str| addrs.next().unwrap_or_else(|| default.to_owned());
    let (bare_addr, scoped_addr, timeout_addr) = (
        addr("127.0.0.1:3101"),
        addr("127.0.0.1:3102"),
        addr("127.0.0.1:3103"),
    );

    let root = Scope::builder().name("server").build();
    let bare = Router::new().route("/", get(hello));
    let scoped = Router::new()
        .route("/", get(scoped_hello))
        .layer(ScopeSpawnLayer::new().parent(&root));
    let timeout = Router::new()
        .route("/", get(hello))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));

    let mut servers = tokio::task::JoinSet::new();
    for (name, addr, router) in [
        ("bare", bare_addr, bare),
        ("scoped", scoped_addr, scoped),
        ("timeout", timeout_addr, timeout),
    ] {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("{name}: http://{}", listener.local_addr()?);
        servers.spawn(async move { axum::serve(listener, router).await });
    }
    while let Some(served) = servers.join_next().await {
        served??;
    }
    drop(root);
    Ok(())
}
