//! Case 1 of `BENCHMARKS.md` counted in instructions rather than timed: spawn
//! `n` trivial tasks and await them in a batch, on a current-thread runtime
//! so that a run does the same work every time. Timings on a shared machine
//! move by tens of percent between runs; instruction counts do not, so this
//! is how a change to the spawn path is judged before it is timed.
//!
//! ```sh
//! bash scope-spawn/benches/callgrind.sh     # counts per task and per request
//! ```
//!
//! The script runs `instructions <variant> <n>` under callgrind for two
//! values of `n` and divides the difference by the difference in `n`, which
//! leaves out start-up. Without arguments — as `cargo bench` runs it — every
//! variant runs once with a small `n`, as a smoke test.

use scope_spawn::Scope;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The variants, each against the same baselines as case 1.
const VARIANTS: [&str; 5] = [
    "tokio_spawn",
    "join_set",
    "task_tracker_token",
    "scope_spawn_0_1",
    "scope_spawn",
];

async fn spawn_and_await(variant: &str, n: usize) -> usize {
    let mut sum = 0;
    match variant {
        "tokio_spawn" => {
            let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
            for handle in handles {
                sum += handle.await.unwrap();
            }
        }
        "join_set" => {
            let mut set = JoinSet::new();
            for i in 0..n {
                set.spawn(async move { i });
            }
            while let Some(out) = set.join_next().await {
                sum += out.unwrap();
            }
        }
        "task_tracker_token" => {
            let (tracker, token) = (TaskTracker::new(), CancellationToken::new());
            let handles: Vec<_> = (0..n)
                .map(|i| tracker.spawn(token.clone().run_until_cancelled_owned(async move { i })))
                .collect();
            for handle in handles {
                sum += handle.await.unwrap().unwrap();
            }
        }
        "scope_spawn_0_1" => {
            let scope = scope_spawn_0_1::scope::Scope::new();
            let handles: Vec<_> = (0..n).map(|i| scope.spawn(async move { i })).collect();
            for handle in handles {
                sum += handle.await.unwrap().unwrap();
            }
        }
        "scope_spawn" => {
            let scope = Scope::new();
            let handles: Vec<_> = (0..n).map(|i| scope.spawn(async move { i })).collect();
            for handle in handles {
                sum += handle.await.unwrap();
            }
        }
        other => panic!("unknown variant {other:?}; one of {VARIANTS:?}"),
    }
    sum
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; anything that is not `<variant> <n>` is
    // the smoke test.
    let runs: Vec<(String, usize)> = match args.as_slice() {
        [variant, n] if n.parse::<usize>().is_ok() => vec![(variant.clone(), n.parse().unwrap())],
        _ => VARIANTS.iter().map(|v| (v.to_string(), 100)).collect(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for (variant, n) in &runs {
        let sum = runtime.block_on(spawn_and_await(variant, *n));
        assert_eq!(
            sum,
            n * n.saturating_sub(1) / 2,
            "{variant}: every task ran"
        );
    }
    if runs.len() > 1 {
        println!(
            "instructions: {} variants ran (a smoke test; count them with callgrind.sh)",
            runs.len()
        );
    }
}
