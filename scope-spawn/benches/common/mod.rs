//! What the runtime and memory benches share: quick mode and the runtime
//! every async case runs on.

use std::future::Future;

use tokio::runtime::Runtime;

/// `SCOPE_SPAWN_BENCH_QUICK=1`: smaller sizes and fewer samples, for smoke
/// tests; the timings mean nothing.
pub fn quick() -> bool {
    std::env::var_os("SCOPE_SPAWN_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// A 2-worker multi-thread runtime, as on the machines these figures are for.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Runs `future` as a task on one of `rt`'s workers and waits for it.
pub fn on_worker<F>(rt: &Runtime, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async { tokio::spawn(future).await.expect("benchmark task panicked") })
}
