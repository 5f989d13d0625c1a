//! Case 1 of `BENCHMARKS.md` again, measured in pairs: spawn 100k trivial
//! tasks and await them in a batch, every variant on one 2-worker runtime,
//! interleaved — each round runs one batch of every variant, in an order that
//! changes from round to round (see `order`) — so that a slow stretch of the
//! shared machine hits every variant alike. Each judged figure is the median over rounds of
//! a ratio taken *within* a round. (`runtime.rs` times each variant on a
//! runtime of its own, one after the other: there a slow minute lands on one
//! variant only.)
//!
//! ```sh
//! cargo bench -p scope-spawn@0.2.0 --bench spawn_paired
//! ```
//!
//! `SCOPE_SPAWN_BENCH_QUICK=1` runs 3 rounds of 1k tasks (a smoke test).

use std::time::Instant;

mod common;
mod variants;
use common::{on_worker, quick, runtime};
use variants::{VARIANTS, spawn_and_await};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The order of the variants in a round: rotated by one each round, and
/// reversed every other round, so that no variant always follows the same
/// one (whatever a batch leaves behind lands on each neighbour alike).
fn order(round: usize, variants: usize) -> impl Iterator<Item = usize> {
    (0..variants).map(move |k| {
        let k = if round % 2 == 0 { k } else { variants - 1 - k };
        (round / 2 + k) % variants
    })
}

fn main() {
    let (rounds, n) = if quick() { (3, 1_000) } else { (30, 100_000) };
    let rt = runtime();
    let times: Vec<Vec<f64>> = on_worker(&rt, async move {
        let mut times = vec![Vec::with_capacity(rounds); VARIANTS.len()];
        // One warm-up batch of each: the heap grows to its working size.
        for variant in VARIANTS {
            spawn_and_await(variant, n).await;
        }
        for round in 0..rounds {
            for i in order(round, VARIANTS.len()) {
                let started = Instant::now();
                let sum = spawn_and_await(VARIANTS[i], n).await;
                let elapsed = started.elapsed();
                assert_eq!(sum, n * (n - 1) / 2, "{}: every task ran", VARIANTS[i]);
                times[i].push(elapsed.as_nanos() as f64 / n as f64);
            }
        }
        times
    });

    println!(
        "spawn_paired: {rounds} rounds of {n} tasks per variant (spawn all, then await each), interleaved"
    );
    println!(
        "{:<22} {:>14} {:>14}",
        "variant", "median ns/task", "fastest ns/task"
    );
    for (name, t) in VARIANTS.iter().zip(&times) {
        let fastest = t.iter().copied().fold(f64::INFINITY, f64::min);
        println!("{name:<22} {:>14.0} {:>14.0}", median(t.clone()), fastest);
    }
    let index = |name: &str| VARIANTS.iter().position(|v| *v == name).unwrap();
    let scope = &times[index("scope_spawn")];
    // Median, lowest and highest over rounds of the within-round ratio.
    let ratio = |baseline: &str| {
        let base = &times[index(baseline)];
        let ratios: Vec<f64> = (0..rounds).map(|r| scope[r] / base[r]).collect();
        let (low, high) = ratios
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(l, h), x| (l.min(*x), h.max(*x)));
        let below = ratios.iter().filter(|x| **x < 1.0).count();
        (median(ratios), low, high, below)
    };
    for (baseline, target) in [
        ("tokio_spawn", "target <= 1.10"),
        ("task_tracker_token", "target < 1.0"),
        ("scope_spawn_0_1", "target < 1.0"),
        ("join_set", "no target"),
    ] {
        let (median, low, high, below) = ratio(baseline);
        println!(
            "Scope::spawn / {baseline}: {median:.2}x ({low:.2}-{high:.2}; faster in {below} of {rounds} rounds; {target})"
        );
    }
}
