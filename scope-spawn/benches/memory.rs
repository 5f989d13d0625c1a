//! Memory benchmark (case 6 of `BENCHMARKS.md`): heap bytes per live task and
//! per request scope, against a bare tokio task, measured with a counting
//! global allocator. Prints a table; asserts nothing.
//!
//! ```sh
//! cargo bench -p scope-spawn@0.2.0 --bench memory
//! SCOPE_SPAWN_BENCH_QUICK=1 cargo bench -p scope-spawn@0.2.0 --bench memory   # N = 1k
//! ```
//!
//! Method: on a 2-worker runtime, from a task on a worker, read the
//! allocator's live bytes (allocated − freed, as requested by `Layout`, so
//! without malloc's own overhead), create N live things (pending tasks, each
//! polled once, handles dropped; or request scopes, guards kept), read again,
//! and divide the delta by N. Each variant runs once to warm up and once to
//! measure; handles and guards live in vectors allocated before the first
//! reading.

use std::alloc::System;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scope_spawn::{Scope, ScopeGuard, scope_spawn};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::runtime::Runtime;

mod common;
use common::{on_worker, quick, runtime};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes and live allocations right now.
fn live() -> (i64, i64) {
    let s = GLOBAL.stats();
    (
        s.bytes_allocated as i64 - s.bytes_deallocated as i64,
        s.allocations as i64 - s.deallocations as i64,
    )
}

/// What N live things cost, per thing.
#[derive(Clone, Copy)]
struct Cost {
    bytes: f64,
    allocs: f64,
}

/// Measures the live-heap delta across `make`, divided by `n`.
fn measure<T>(n: usize, make: impl FnOnce() -> T) -> (T, Cost) {
    let before = live();
    let made = make();
    let after = live();
    let cost = Cost {
        bytes: (after.0 - before.0) as f64 / n as f64,
        allocs: (after.1 - before.1) as f64 / n as f64,
    };
    (made, cost)
}

/// Counts the task bodies that have been polled, so the reading is taken
/// once every task is pending (not merely queued).
#[derive(Clone, Default)]
struct Started(Arc<AtomicUsize>);

impl Started {
    fn body(&self) -> impl Future<Output = ()> + Send + use<> {
        let started = self.0.clone();
        async move {
            started.fetch_add(1, Ordering::AcqRel);
            std::future::pending::<()>().await;
        }
    }

    async fn all(&self, n: usize) {
        while self.0.load(Ordering::Acquire) < n {
            tokio::task::yield_now().await;
        }
    }
}

/// Runs `variant` twice (warm-up, then the reading) and returns the reading.
fn twice<F, Fut>(rt: &Runtime, n: usize, variant: F) -> Cost
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Cost> + Send + 'static,
{
    on_worker(rt, variant(n));
    on_worker(rt, variant(n))
}

// ----- live pending tasks ------------------------------------------------------
//
// Each variant: spawn n pending bodies and detach the handles (a `JoinSet`
// keeps its own), wait until every body has been polled, read; then cancel
// and wait for settlement so the next variant starts from an idle runtime.

async fn bare_tokio(n: usize) -> Cost {
    bare_tasks(n, Started::body).await
}

/// A bare task that carries a span, as `Instrument` gives it one.
async fn bare_tokio_with_span(n: usize) -> Cost {
    use tracing::Instrument;
    bare_tasks(n, |started| {
        started.body().instrument(tracing::debug_span!("task"))
    })
    .await
}

/// N bare tasks, each running what `task` makes of the shared counter.
async fn bare_tasks<F>(n: usize, task: impl Fn(&Started) -> F) -> Cost
where
    F: Future<Output = ()> + Send + 'static,
{
    let started = Started::default();
    // `AbortHandle`s to stop the tasks afterwards: no heap of their own.
    let mut handles = Vec::with_capacity(n);
    let ((), cost) = measure_polled(n, &started, || {
        for _ in 0..n {
            handles.push(tokio::spawn(task(&started)).abort_handle());
        }
    })
    .await;
    for handle in &handles {
        handle.abort();
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    cost
}

/// A bare task whose body runs under `tokio::time::timeout`: its `Sleep`
/// inline in the task.
async fn bare_tokio_with_timeout(n: usize) -> Cost {
    bare_tasks(n, |started| {
        let body = tokio::time::timeout(AN_HOUR, started.body());
        async move {
            let _ = body.await;
        }
    })
    .await
}

async fn scope_spawn_task(n: usize) -> Cost {
    scoped_tasks(n, Scope::new(), |scope, started| {
        drop(scope.spawn(started.body()))
    })
    .await
}

/// Tasks of a scope whose limit they all fit in: each holds a slot of it.
async fn scope_spawn_limited(n: usize) -> Cost {
    scoped_tasks(n, Scope::builder().limit(n).build(), |scope, started| {
        drop(scope.spawn(started.body()))
    })
    .await
}

/// Tasks with a timeout, whose timer is armed once they run.
async fn scope_spawn_timeout(n: usize) -> Cost {
    scoped_tasks(n, Scope::new(), |scope, started| {
        drop(scope.task().timeout(AN_HOUR).spawn(started.body()))
    })
    .await
}

const AN_HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

/// N tasks spawned into `guard`'s scope by `spawn`.
async fn scoped_tasks(n: usize, guard: ScopeGuard, spawn: impl Fn(&Scope, &Started)) -> Cost {
    let started = Started::default();
    let ((), cost) = measure_polled(n, &started, || {
        for _ in 0..n {
            spawn(&guard, &started);
        }
    })
    .await;
    guard.cancel();
    guard.join().await.unwrap();
    cost
}

async fn scope_spawn_macro_named(n: usize) -> Cost {
    let (guard, started) = (Scope::new(), Started::default());
    let scope = Scope::clone(&guard);
    let ((), cost) = measure_polled(n, &started, || {
        scope.in_scope_sync(|| {
            for _ in 0..n {
                drop(scope_spawn!("worker", started.body()));
            }
        })
    })
    .await;
    guard.cancel();
    guard.join().await.unwrap();
    cost
}

async fn task_tracker_token(n: usize) -> Cost {
    let (tracker, token, started) = (
        TaskTracker::new(),
        CancellationToken::new(),
        Started::default(),
    );
    let ((), cost) = measure_polled(n, &started, || {
        for _ in 0..n {
            drop(tracker.spawn(token.clone().run_until_cancelled_owned(started.body())));
        }
    })
    .await;
    token.cancel();
    tracker.close();
    tracker.wait().await;
    cost
}

async fn join_set(n: usize) -> Cost {
    let (mut set, started) = (JoinSet::new(), Started::default());
    let ((), cost) = measure_polled(n, &started, || {
        for _ in 0..n {
            set.spawn(started.body());
        }
    })
    .await;
    set.abort_all();
    while set.join_next().await.is_some() {}
    cost
}

async fn scope_spawn_0_1(n: usize) -> Cost {
    let (scope, started) = (scope_spawn_0_1::scope::Scope::new(), Started::default());
    let ((), cost) = measure_polled(n, &started, || {
        for _ in 0..n {
            drop(scope.spawn(started.body()));
        }
    })
    .await;
    drop(scope);
    // Its tasks settle at their next poll; give the workers a moment.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    cost
}

/// `measure`, with the second reading taken once every body has been polled.
async fn measure_polled<T>(n: usize, started: &Started, make: impl FnOnce() -> T) -> (T, Cost) {
    let before = live();
    let made = make();
    started.all(n).await;
    let after = live();
    let cost = Cost {
        bytes: (after.0 - before.0) as f64 / n as f64,
        allocs: (after.1 - before.1) as f64 / n as f64,
    };
    (made, cost)
}

// ----- live request scopes -----------------------------------------------------

/// What the tower layer builds per request: a scope named "{method} {path}"
/// (joined with `name_concat`, as the layer does), a child of the server root.
async fn request_scope(n: usize) -> Cost {
    let root = Scope::builder().name("server").build();
    let paths: Vec<String> = (0..10).map(|i| format!("/users/{i}")).collect();
    let mut guards: Vec<ScopeGuard> = Vec::with_capacity(n);
    let ((), cost) = measure(n, || {
        for i in 0..n {
            let path = &paths[i % paths.len()];
            guards.push(
                Scope::builder()
                    .name_concat(&["GET", " ", path])
                    .parent(&root)
                    .build(),
            );
        }
    });
    drop(guards);
    root.join().await.unwrap();
    cost
}

/// `root.child()`: an unnamed child scope.
async fn child_scope(n: usize) -> Cost {
    let root = Scope::new();
    let mut guards: Vec<ScopeGuard> = Vec::with_capacity(n);
    let ((), cost) = measure(n, || {
        for _ in 0..n {
            guards.push(root.child());
        }
    });
    drop(guards);
    root.join().await.unwrap();
    cost
}

/// The hand-wired request scope: a `child_token()` of the server's token and
/// a `TaskTracker`.
async fn token_tracker_pair(n: usize) -> Cost {
    let root = CancellationToken::new();
    let mut pairs: Vec<(CancellationToken, TaskTracker)> = Vec::with_capacity(n);
    let ((), cost) = measure(n, || {
        for _ in 0..n {
            pairs.push((root.child_token(), TaskTracker::new()));
        }
    });
    drop(pairs);
    cost
}

/// A subscriber that enables every span and event and keeps nothing.
struct EverySpan;

impl tracing::Subscriber for EverySpan {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {}

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A table of live tasks, each against `bare`.
fn print_tasks(heading: &str, rows: &[(&str, Cost)], bare: Cost) {
    println!();
    println!(
        "{:<44} {:>12} {:>14} {:>12}",
        heading, "bytes/task", "over bare", "allocs/task"
    );
    for (name, cost) in rows {
        println!(
            "{:<44} {:>12.1} {:>+14.1} {:>12.2}",
            name,
            cost.bytes,
            cost.bytes - bare.bytes,
            cost.allocs
        );
    }
}

fn main() {
    let n = if quick() { 1_000 } else { 10_000 };
    let rt = runtime();

    let bare = twice(&rt, n, bare_tokio);
    let tasks: [(&str, Cost); 6] = [
        ("tokio::spawn (bare task)", bare),
        ("Scope::spawn", twice(&rt, n, scope_spawn_task)),
        (
            "scope_spawn!(\"name\", _) in current scope",
            twice(&rt, n, scope_spawn_macro_named),
        ),
        (
            "TaskTracker::spawn + token clone",
            twice(&rt, n, task_tracker_token),
        ),
        ("JoinSet::spawn", twice(&rt, n, join_set)),
        (
            "scope-spawn 0.1 Scope::spawn",
            twice(&rt, n, scope_spawn_0_1),
        ),
    ];
    let limited: [(&str, Cost); 2] = [
        ("tokio::spawn (bare task)", bare),
        ("Scope::spawn", twice(&rt, n, scope_spawn_limited)),
    ];
    let bare_timed = twice(&rt, n, bare_tokio_with_timeout);
    let timed: [(&str, Cost); 2] = [
        ("tokio::spawn(timeout(_, _))", bare_timed),
        (
            "scope.task().timeout(_).spawn",
            twice(&rt, n, scope_spawn_timeout),
        ),
    ];
    let scopes: [(&str, Cost); 3] = [
        (
            "request scope (named child of a root)",
            twice(&rt, n, request_scope),
        ),
        ("Scope::child() (unnamed)", twice(&rt, n, child_scope)),
        (
            "child_token() + TaskTracker::new()",
            twice(&rt, n, token_tracker_pair),
        ),
    ];

    // Last, as it is for the rest of the run: a subscriber that enables every
    // span, so that each task carries one (a scope's task its `scope_task`
    // span, the bare task the span `Instrument` gives it). It keeps nothing
    // per span: what a real subscriber stores depends on its pooling, not on
    // the task.
    tracing::subscriber::set_global_default(EverySpan).expect("no subscriber was set before");
    let bare_span = twice(&rt, n, bare_tokio_with_span);
    let spans: [(&str, Cost); 2] = [
        ("tokio::spawn(_.instrument(span))", bare_span),
        ("Scope::spawn", twice(&rt, n, scope_spawn_task)),
    ];

    println!("memory: N = {n} live at once; heap bytes requested (allocated - freed) / N");
    print_tasks("live task (pending, polled once)", &tasks, bare);
    print_tasks("live task with a span (subscriber on)", &spans, bare_span);
    print_tasks("live task of a scope with a limit", &limited, bare);
    print_tasks("live task with a timeout (armed)", &timed, bare_timed);
    println!();
    println!(
        "{:<44} {:>12} {:>14} {:>12}",
        "live scope", "bytes/scope", "", "allocs/scope"
    );
    for (name, cost) in scopes {
        println!(
            "{:<44} {:>12.1} {:>14} {:>12.2}",
            name, cost.bytes, "", cost.allocs
        );
    }
    println!();
    println!(
        "handle sizes (stack, not counted above): JoinHandle<()> {} B, scope_spawn::TaskHandle<()> {} B",
        std::mem::size_of::<tokio::task::JoinHandle<()>>(),
        std::mem::size_of::<scope_spawn::TaskHandle<()>>()
    );
    println!(
        "sizes of parts a task's future may hold inline (tokio rounds a task cell up to a multiple of 128 B on x86_64/aarch64): \
         tokio::time::Sleep {} B, tokio_util WaitForCancellationFuture {} B, tracing::Span {} B, Scope {} B",
        std::mem::size_of::<tokio::time::Sleep>(),
        std::mem::size_of::<tokio_util::sync::WaitForCancellationFuture<'static>>(),
        std::mem::size_of::<tracing::Span>(),
        std::mem::size_of::<Scope>(),
    );
}
