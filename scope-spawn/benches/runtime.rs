//! Runtime benchmarks (cases 1–3 of `BENCHMARKS.md`): spawning, cancelling,
//! trees and introspection, each next to the baselines it is judged against,
//! all measured in the same run.
//!
//! ```sh
//! cargo bench -p scope-spawn@0.2.0 --bench runtime                      # full run
//! SCOPE_SPAWN_BENCH_QUICK=1 cargo bench -p scope-spawn@0.2.0 --bench runtime  # smoke test
//! ```
//!
//! Every async case runs on a 2-worker multi-thread runtime, from inside a task
//! on a worker (`rt.block_on(async { tokio::spawn(...).await })`), as a server's
//! handlers do. Baselines are the real crates: tokio, tokio-util and the 0.1
//! `scope-spawn` from crates.io (as `scope_spawn_0_1`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use divan::{Bencher, black_box};
use scope_spawn::{Scope, ScopeGuard, scope_spawn};

mod common;
use common::{on_worker, quick, runtime};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn main() {
    let mut divan = divan::Divan::from_args();
    if quick() {
        divan = divan.sample_count(3).sample_size(1);
    }
    divan.main();
}

/// Tasks per iteration in cases 1 and 2.
fn tasks() -> usize {
    if quick() { 1_000 } else { 100_000 }
}

/// A pending task body that says when it has been polled (`started`) and when
/// it has been dropped (`live`), the only way to see the 0.1 crate's tasks
/// settle. Every variant of a case spawns the same body, so the probe costs
/// each of them the same.
struct Probe {
    started: AtomicUsize,
    live: AtomicUsize,
    all_dropped: Notify,
}

struct LiveGuard(Arc<Probe>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_dropped.notify_one();
        }
    }
}

impl Probe {
    fn new() -> Arc<Self> {
        Arc::new(Probe {
            started: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            all_dropped: Notify::new(),
        })
    }

    fn task(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        self.live.fetch_add(1, Ordering::AcqRel);
        let guard = LiveGuard(Arc::clone(self));
        async move {
            guard.0.started.fetch_add(1, Ordering::AcqRel);
            std::future::pending::<()>().await;
            drop(guard);
        }
    }

    /// Waits until `n` task bodies have been polled: the tasks are pending.
    async fn all_started(&self, n: usize) {
        while self.started.load(Ordering::Acquire) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits until every task body has been dropped.
    async fn all_dropped(&self) {
        loop {
            let notified = self.all_dropped.notified();
            if self.live.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// How the tasks of case 1 are awaited.
#[derive(Clone, Copy)]
enum Mode {
    /// Spawn all, then await all handles in order.
    Batch,
    /// Spawn one, await it, spawn the next.
    Serial,
}

const MODES: [Mode; 2] = [Mode::Batch, Mode::Serial];

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Batch => "batch",
            Mode::Serial => "serial",
        })
    }
}

/// Spawns `n` tasks with `spawn` and awaits their handles, per `mode`.
async fn drive<H: Future>(
    n: usize,
    mode: Mode,
    mut spawn: impl FnMut(usize) -> H,
    mut output: impl FnMut(H::Output) -> usize,
) -> usize {
    let mut sum = 0;
    match mode {
        Mode::Batch => {
            let mut handles = Vec::with_capacity(n);
            for i in 0..n {
                handles.push(spawn(i));
            }
            for handle in handles {
                sum += output(handle.await);
            }
        }
        Mode::Serial => {
            for i in 0..n {
                sum += output(spawn(i).await);
            }
        }
    }
    sum
}

/// Case 1: spawn and await 100k trivial tasks.
mod spawn_await {
    use super::*;

    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn tokio_spawn(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                drive(n, mode, |i| tokio::spawn(async move { i }), |r| r.unwrap()).await
            })
        });
    }

    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn scope_spawn(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                let scope = Scope::new();
                drive(n, mode, |i| scope.spawn(async move { i }), |r| r.unwrap()).await
            })
        });
    }

    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn macro_explicit_scope(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                let scope = Scope::new();
                drive(
                    n,
                    mode,
                    |i| scope_spawn!(&scope, async move { i }),
                    |r| r.unwrap(),
                )
                .await
            })
        });
    }

    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn macro_current_scope(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                let scope = Scope::new();
                scope
                    .in_scope(drive(
                        n,
                        mode,
                        |i| scope_spawn!(async move { i }),
                        |r| r.unwrap(),
                    ))
                    .await
            })
        });
    }

    /// `TaskTracker::spawn` with a clone of one shared `CancellationToken` and
    /// `run_until_cancelled_owned` per task: the hand-wired equivalent.
    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn task_tracker_token(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                let tracker = TaskTracker::new();
                let token = CancellationToken::new();
                drive(
                    n,
                    mode,
                    |i| tracker.spawn(token.clone().run_until_cancelled_owned(async move { i })),
                    |r| r.unwrap().unwrap(),
                )
                .await
            })
        });
    }

    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn join_set(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                let mut set = JoinSet::new();
                let mut sum = 0;
                match mode {
                    Mode::Batch => {
                        for i in 0..n {
                            set.spawn(async move { i });
                        }
                        while let Some(r) = set.join_next().await {
                            sum += r.unwrap();
                        }
                    }
                    Mode::Serial => {
                        for i in 0..n {
                            set.spawn(async move { i });
                            sum += set.join_next().await.unwrap().unwrap();
                        }
                    }
                }
                sum
            })
        });
    }

    /// The 0.1 crate on crates.io: `TaskTracker` + token per scope.
    #[divan::bench(args = MODES, sample_count = 20, sample_size = 1)]
    fn scope_spawn_0_1(bencher: Bencher, mode: Mode) {
        let (rt, n) = (runtime(), tasks());
        bencher.bench_local(|| {
            on_worker(&rt, async move {
                let scope = scope_spawn_0_1::scope::Scope::new();
                drive(
                    n,
                    mode,
                    |i| scope.spawn(async move { i }),
                    |r| r.unwrap().unwrap(),
                )
                .await
            })
        });
    }
}

/// Case 2: cancel 100k pending tasks and wait until every one has settled.
/// Spawning the tasks and letting each be polled once is set-up, not timed.
mod cancel_pending {
    use super::*;

    /// `guard.cancel()` then `guard.join()`: `join` returns once every task
    /// has settled.
    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn scope_cancel_join(bencher: Bencher) {
        let (rt, n) = (runtime(), tasks());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (guard, probe) = (Scope::new(), Probe::new());
                    for _ in 0..n {
                        drop(guard.spawn(probe.task()));
                    }
                    probe.all_started(n).await;
                    guard
                })
            })
            .bench_local_values(|guard: ScopeGuard| {
                on_worker(&rt, async move {
                    guard.cancel();
                    guard.join().await.unwrap();
                })
            });
    }

    /// Dropping the guard, then waiting on the probe's drop guards: the same
    /// method as the 0.1 crate's row, for a like-for-like comparison.
    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn scope_drop_probe(bencher: Bencher) {
        let (rt, n) = (runtime(), tasks());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (guard, probe) = (Scope::new(), Probe::new());
                    for _ in 0..n {
                        drop(guard.spawn(probe.task()));
                    }
                    probe.all_started(n).await;
                    (guard, probe)
                })
            })
            .bench_local_values(|(guard, probe)| {
                on_worker(&rt, async move {
                    drop(guard);
                    probe.all_dropped().await;
                })
            });
    }

    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn join_set_abort_all(bencher: Bencher) {
        let (rt, n) = (runtime(), tasks());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (mut set, probe) = (JoinSet::new(), Probe::new());
                    for _ in 0..n {
                        set.spawn(probe.task());
                    }
                    probe.all_started(n).await;
                    set
                })
            })
            .bench_local_values(|mut set: JoinSet<()>| {
                on_worker(&rt, async move {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                })
            });
    }

    /// A shared `CancellationToken`, then `TaskTracker::close` and `wait`.
    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn task_tracker_token(bencher: Bencher) {
        let (rt, n) = (runtime(), tasks());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (tracker, token, probe) =
                        (TaskTracker::new(), CancellationToken::new(), Probe::new());
                    for _ in 0..n {
                        tracker.spawn(token.clone().run_until_cancelled_owned(probe.task()));
                    }
                    probe.all_started(n).await;
                    (tracker, token)
                })
            })
            .bench_local_values(|(tracker, token)| {
                on_worker(&rt, async move {
                    token.cancel();
                    tracker.close();
                    tracker.wait().await;
                })
            });
    }

    /// The 0.1 crate cannot be waited on (its tracker is private and never
    /// closed): drop the scope, then wait until every task body was dropped.
    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn scope_spawn_0_1_drop_probe(bencher: Bencher) {
        let (rt, n) = (runtime(), tasks());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (scope, probe) = (scope_spawn_0_1::scope::Scope::new(), Probe::new());
                    for _ in 0..n {
                        drop(scope.spawn(probe.task()));
                    }
                    probe.all_started(n).await;
                    (scope, probe)
                })
            })
            .bench_local_values(|(scope, probe)| {
                on_worker(&rt, async move {
                    drop(scope);
                    probe.all_dropped().await;
                })
            });
    }
}

/// Case 3: deep and wide trees, and what introspection costs.
mod tree {
    use super::*;

    /// Child scopes under the root, and tasks in each.
    fn shape() -> (usize, usize) {
        if quick() { (10, 100) } else { (1_000, 100) }
    }

    /// Cancel a root with 1k child scopes × 100 pending tasks; timed until
    /// the root's `join` returns, i.e. every task of the tree has settled.
    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn cancel_root_scope(bencher: Bencher) {
        let (rt, (children, per_child)) = (runtime(), shape());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (root, probe) = (Scope::new(), Probe::new());
                    let mut guards = Vec::with_capacity(children);
                    for _ in 0..children {
                        let child = root.child();
                        for _ in 0..per_child {
                            drop(child.spawn(probe.task()));
                        }
                        guards.push(child);
                    }
                    probe.all_started(children * per_child).await;
                    (root, guards)
                })
            })
            .bench_local_values(|(root, guards)| {
                on_worker(&rt, async move {
                    root.cancel();
                    drop(guards);
                    root.join().await.unwrap();
                })
            });
    }

    /// The hand-wired tree: a root token, a `child_token()` and a
    /// `TaskTracker` per child, `run_until_cancelled_owned` per task; cancel the
    /// root, then close and wait every tracker.
    #[divan::bench(sample_count = 15, sample_size = 1)]
    fn cancel_root_token_trackers(bencher: Bencher) {
        let (rt, (children, per_child)) = (runtime(), shape());
        bencher
            .with_inputs(|| {
                on_worker(&rt, async move {
                    let (root, probe) = (CancellationToken::new(), Probe::new());
                    let mut trackers = Vec::with_capacity(children);
                    for _ in 0..children {
                        let (token, tracker) = (root.child_token(), TaskTracker::new());
                        for _ in 0..per_child {
                            tracker.spawn(token.clone().run_until_cancelled_owned(probe.task()));
                        }
                        trackers.push(tracker);
                    }
                    probe.all_started(children * per_child).await;
                    (root, trackers)
                })
            })
            .bench_local_values(|(root, trackers)| {
                on_worker(&rt, async move {
                    root.cancel();
                    for tracker in trackers {
                        tracker.close();
                        tracker.wait().await;
                    }
                })
            });
    }

    /// Calls per iteration of the `current` benchmarks.
    const CALLS: usize = 10_000;

    /// `Scope::current()` 10k times inside a scope's task (the spawn is timed
    /// too; it is about 1/100 of the iteration).
    #[divan::bench(sample_count = 50)]
    fn current_in_task(bencher: Bencher) {
        let rt = runtime();
        let scope = Scope::new();
        bencher.bench_local(|| {
            rt.block_on(async {
                let task = scope.spawn(async {
                    for _ in 0..CALLS {
                        black_box(Scope::current());
                    }
                });
                task.await.unwrap()
            })
        });
    }

    tokio::task_local! {
        static LOCAL: Arc<()>;
    }

    /// Baseline: a bare `tokio::task_local!` holding an `Arc`, read and cloned
    /// the same way (`try_with(Arc::clone)`) 10k times inside a `tokio::spawn`ed
    /// task.
    #[divan::bench(sample_count = 50)]
    fn task_local_arc_in_task(bencher: Bencher) {
        let rt = runtime();
        let value = Arc::new(());
        bencher.bench_local(|| {
            rt.block_on(async {
                let task = tokio::spawn(LOCAL.scope(Arc::clone(&value), async {
                    for _ in 0..CALLS {
                        black_box(LOCAL.try_with(Arc::clone).ok());
                    }
                }));
                task.await.unwrap()
            })
        });
    }

    struct Config(u64);

    /// A chain root → c1 → … → c5; the root holds `Config`, and every level
    /// one other context value of its own type.
    fn chain() -> Vec<ScopeGuard> {
        let root = Scope::new();
        root.insert(Config(7));
        root.insert(0u8);
        let mut chain = vec![root];
        for depth in 1..=5u32 {
            let child = chain.last().unwrap().child();
            match depth {
                1 => child.insert(1u16),
                2 => child.insert(2u32),
                3 => child.insert(3u64),
                4 => child.insert(4i8),
                _ => child.insert(5i16),
            }
            chain.push(child);
        }
        chain
    }

    /// `get::<T>()` on the scope that holds the value.
    #[divan::bench]
    fn context_get_depth_0(bencher: Bencher) {
        let chain = chain();
        let scope: &Scope = &chain[0];
        bencher.bench_local(|| black_box(scope).get::<Config>().map(|c| c.0));
    }

    /// `get::<T>()` five parents below the scope that holds the value.
    #[divan::bench]
    fn context_get_depth_5(bencher: Bencher) {
        let chain = chain();
        let scope: &Scope = &chain[5];
        bencher.bench_local(|| black_box(scope).get::<Config>().map(|c| c.0));
    }

    /// `snapshot()` of a scope with 10k live (pending) tasks.
    #[divan::bench(sample_count = 30)]
    fn snapshot_10k_tasks(bencher: Bencher) {
        let rt = runtime();
        let n = if quick() { 1_000 } else { 10_000 };
        let guard = on_worker(&rt, async move {
            let (guard, probe) = (Scope::new(), Probe::new());
            for _ in 0..n {
                drop(guard.spawn(probe.task()));
            }
            probe.all_started(n).await;
            guard
        });
        assert_eq!(guard.live_tasks(), n);
        bencher.bench_local(|| guard.snapshot());
        rt.block_on(async move {
            guard.cancel();
            guard.join().await.unwrap();
        });
    }
}
