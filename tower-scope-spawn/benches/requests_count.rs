//! Case 4 of `BENCHMARKS.md` counted in instructions rather than timed: `n`
//! requests one after another through a finalized router, on a current-thread
//! runtime so that a run does the same work every time. See
//! `scope-spawn/benches/callgrind.sh`, which runs this under callgrind.
//!
//! `requests_count <variant> <n>` sends `n` requests; without arguments — as
//! `cargo bench` runs it — every variant sends a few, as a smoke test.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use tower_http::timeout::TimeoutLayer;
use tower_scope_spawn::ScopeSpawnLayer;

mod routes;
use routes::*;

/// The variants: case 4's, plus a layer that does nothing, which is what axum
/// itself costs for any route layer.
const VARIANTS: [&str; 7] = [
    "bare",
    "noop_layer",
    "timeout_layer",
    "scope_layer_only",
    "scope_layer_scoped",
    "tokio_spawn_bare",
    "scope_spawn_layer_scoped",
];

fn router(variant: &str, root: &scope_spawn::Scope) -> Router {
    let layer = || ScopeSpawnLayer::new().parent(root);
    let router = match variant {
        "bare" => Router::new().route("/", get(hello)),
        "noop_layer" => Router::new()
            .route("/", get(hello))
            .layer(tower::layer::layer_fn(|service| service)),
        "timeout_layer" => {
            Router::new()
                .route("/", get(hello))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                ))
        }
        "scope_layer_only" => Router::new().route("/", get(hello)).layer(layer()),
        "scope_layer_scoped" => Router::new().route("/", get(scoped_hello)).layer(layer()),
        "tokio_spawn_bare" => Router::new().route("/", get(hello_tokio_spawn)),
        "scope_spawn_layer_scoped" => Router::new()
            .route("/", get(scoped_hello_scope_spawn))
            .layer(layer()),
        other => panic!("unknown variant {other:?}; one of {VARIANTS:?}"),
    };
    finalized(router)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; anything that is not `<variant> <n>` is
    // the smoke test.
    let runs: Vec<(String, usize)> = match args.as_slice() {
        [variant, n] if n.parse::<usize>().is_ok() => vec![(variant.clone(), n.parse().unwrap())],
        _ => VARIANTS.iter().map(|v| (v.to_string(), 10)).collect(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let root = server();
    for (variant, n) in &runs {
        let router = router(variant, &root);
        runtime.block_on(async {
            for _ in 0..*n {
                get_hello(&router).await;
            }
        });
    }
    if runs.len() > 1 {
        println!(
            "requests_count: {} variants ran (a smoke test; count them with scope-spawn/benches/callgrind.sh)",
            runs.len()
        );
    }
}
