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

mod variants;
use variants::{VARIANTS, spawn_and_await};

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
