//! Soak: a real `axum::serve` with the layer takes thousands of requests in
//! rounds, a seeded share of whose clients hang up mid-request. Each handler
//! spawns guarded tasks with side effects, a task with hooks, a task with a
//! timeout and, for some requests, a task that panics. After every round the
//! server root has no live task; at the end every guarded side effect happened
//! exactly once, every injected panic was observed on its handle, the server
//! still answers, and the live heap did not grow from round to round.
//!
//! Short by default (a warm-up of 4,096 requests, then 5 rounds of 500;
//! about two seconds in debug). Longer runs are set through the environment:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `SOAK_REQUESTS` | requests in the measured rounds | 2500 |
//! | `SOAK_ROUNDS` | measured rounds, after the warm-up round (at least 2) | 5 |
//! | `SOAK_WARMUP` | requests in the warm-up round | 64 × `SOAK_CONCURRENCY` |
//! | `SOAK_CONCURRENCY` | clients running at once | 64 |
//! | `SOAK_DISCONNECT_PERCENT` | share of requests whose client hangs up mid-request | 25 |
//! | `SOAK_PANIC_PERCENT` | share of requests that spawn a panicking task | 20 |
//! | `SOAK_SEED` | seed of the request plan (which requests hang up, panic, …) | 0x5eed |
//!
//! ```sh
//! SOAK_REQUESTS=200000 SOAK_CONCURRENCY=256 \
//!     cargo test -p tower-scope-spawn --release --test soak -- --nocapture
//! ```
//!
//! (That run: 216,384 requests in 13 s on 2 cores, 53,607 hang-ups, 43,273
//! panics injected and observed; the live heap after round 5 was 0.5 MiB
//! *below* its level after round 1.)
//!
//! The memory check: this binary counts heap bytes with a counting global
//! allocator (`stats_alloc`; the workspace forbids `unsafe`, so the test
//! cannot implement `GlobalAlloc` itself). After every round, once the server
//! root has no live task, the live bytes are sampled. The live bytes after
//! the last round may exceed those after round 1 (the first after the warm-up)
//! by less than [`MAX_GROWTH`] (256 KiB).
//!
//! - The warm-up, round 0, brings tokio, the hash maps and the keep-alive
//!   connections to their working size. The connections need it most: over
//!   64 keep-alive connections the heap grows once by about 500 KiB (some
//!   8 KiB per connection) after 30 to 40 requests per connection — hyper's
//!   connection buffers reaching their steady state, as happens without the
//!   layer too — and stays flat after that. Hence a warm-up of 64 requests
//!   per client.
//! - Measured growth after the warm-up: between −1.7 KiB and +3.3 KiB over
//!   2,000 requests (scopes sweep their lists of settled tasks and ended
//!   children lazily, so a few entries come and go from round to round); with a too
//!   short warm-up, a few KiB to 20 KiB more (a table growing once more). So
//!   the bound is robust. It is meaningful: a leak of 132 bytes or more per
//!   request fails the default run (2,000 requests after round 1); leaking
//!   each request's scope (one forgotten `Scope` handle) costs about 950 bytes
//!   per request and fails it by 7×; in a long run a leak of a few bytes per
//!   request fails it.

mod common;

use std::alloc::System;
use std::collections::HashMap;
use std::future::pending;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use common::{TestClient, get_text, serve, within};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use scope_spawn::{CancelReason, Scope, TaskError, scope_spawn, scope_spawn_guarded, scoped};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tower_scope_spawn::ScopeSpawnLayer;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// How much the live heap may grow between the end of round 1 and the end of
/// the last round (see the module docs).
const MAX_GROWTH: i64 = 256 << 10;

/// How long the server root may take to have no live task after a round's
/// last client is done. A hang guard: it takes a few milliseconds.
const SETTLE_GUARD: Duration = Duration::from_secs(10);

/// The live heap bytes of this process. (`stats_alloc` already counts a
/// `realloc` in `bytes_allocated` or `bytes_deallocated`; its
/// `bytes_reallocated` sums those up again and must not be added.)
fn live_bytes() -> i64 {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

#[derive(Debug, Clone, Copy)]
struct Config {
    warmup: u64,
    requests: u64,
    rounds: u64,
    concurrency: u64,
    disconnect_percent: u64,
    panic_percent: u64,
    seed: u64,
}

impl Config {
    fn from_env() -> Self {
        let concurrency = env_or("SOAK_CONCURRENCY", 64);
        let config = Config {
            warmup: env_or("SOAK_WARMUP", concurrency * 64),
            requests: env_or("SOAK_REQUESTS", 2500),
            rounds: env_or("SOAK_ROUNDS", 5),
            concurrency,
            disconnect_percent: env_or("SOAK_DISCONNECT_PERCENT", 25),
            panic_percent: env_or("SOAK_PANIC_PERCENT", 20),
            seed: env_or("SOAK_SEED", 0x5eed),
        };
        assert!(config.rounds >= 2, "SOAK_ROUNDS must be at least 2");
        assert!(
            config.requests >= config.rounds,
            "SOAK_REQUESTS < SOAK_ROUNDS"
        );
        assert!(
            config.concurrency >= 1,
            "SOAK_CONCURRENCY must be at least 1"
        );
        assert!(config.disconnect_percent <= 100 && config.panic_percent <= 100);
        config
    }

    fn per_round(&self) -> u64 {
        self.requests.div_ceil(self.rounds)
    }

    /// The request ids of each round: round 0 is the warm-up.
    fn rounds(&self) -> Vec<std::ops::Range<u64>> {
        let measured = (0..self.rounds).map(|k| {
            let start = self.warmup + k * self.per_round();
            start..start + self.per_round()
        });
        std::iter::once(0..self.warmup).chain(measured).collect()
    }

    fn total(&self) -> u64 {
        self.warmup + self.per_round() * self.rounds
    }

    /// What request `id` does: a pure function of the seed and the id, so the
    /// client and the server agree on it without talking.
    fn plan(&self, id: u64) -> Plan {
        let mut rng = XorShift::new(self.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Plan {
            disconnect: rng.below(100) < self.disconnect_percent,
            panic: rng.below(100) < self.panic_percent,
            audit_delay: Duration::from_millis(rng.below(3)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    /// The client hangs up once the handler has spawned its tasks.
    disconnect: bool,
    /// The handler spawns a task that panics.
    panic: bool,
    /// How long the guarded audit task works before it writes.
    audit_delay: Duration,
}

/// xorshift64*, seeded through splitmix64: deterministic and dependency-free.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        XorShift((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How a request's scope ended, as its guarded `flush` task saw it.
const ENDED_COMPLETED: u8 = 1;
const ENDED_DROPPED: u8 = 2;
const ENDED_OTHER: u8 = 3;

/// What the handlers and their tasks record, shared with the test. The
/// per-request slots are allocated up front, so the server's bookkeeping
/// does not grow the heap from round to round.
struct Soak {
    config: Config,
    /// Per request: how many times the guarded `audit` task wrote.
    audits: Vec<AtomicU32>,
    /// Per request: how many times the guarded `flush` task ran.
    flushes: Vec<AtomicU32>,
    /// Per request: how its scope ended (`ENDED_*`).
    ended: Vec<AtomicU8>,
    hooks_completed: AtomicU64,
    hooks_cancelled: AtomicU64,
    /// Counted right before the `panic!`, with no `.await` in between.
    panics_injected: AtomicU64,
    /// `TaskError::Panicked` seen on the panicking tasks' handles.
    panics_observed: AtomicU64,
    timed_out: AtomicU64,
    unexpected: Mutex<Vec<String>>,
    /// The hanging-up clients wait here until their handler has spawned.
    spawned: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

impl Soak {
    fn new(config: Config) -> Self {
        let n = config.total() as usize;
        Soak {
            config,
            audits: (0..n).map(|_| AtomicU32::new(0)).collect(),
            flushes: (0..n).map(|_| AtomicU32::new(0)).collect(),
            ended: (0..n).map(|_| AtomicU8::new(0)).collect(),
            hooks_completed: AtomicU64::new(0),
            hooks_cancelled: AtomicU64::new(0),
            panics_injected: AtomicU64::new(0),
            panics_observed: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            unexpected: Mutex::new(Vec::new()),
            spawned: Mutex::new(HashMap::with_capacity(n.min(4096))),
        }
    }

    fn unexpected(&self, what: String) {
        self.unexpected.lock().unwrap().push(what);
    }
}

fn injected_panic_message(id: u64) -> String {
    format!("injected panic in request {id}")
}

async fn flaky(soak: Arc<Soak>, id: u64) {
    soak.panics_injected.fetch_add(1, Ordering::SeqCst);
    panic!("{}", injected_panic_message(id));
}

/// Spawns the request's tasks, then either answers (after its timeout task
/// timed out) or, for a client that will hang up, tells the client and waits
/// to be dropped.
#[scoped]
async fn work(scope: Scope, State(soak): State<Arc<Soak>>, Path(id): Path<u64>) -> String {
    let plan = soak.config.plan(id);
    let slot = id as usize;

    // Guarded: must write exactly once, also when the client hangs up.
    let audit = {
        let soak = Arc::clone(&soak);
        scope_spawn_guarded!("audit", async move {
            tokio::time::sleep(plan.audit_delay).await;
            soak.audits[slot].fetch_add(1, Ordering::SeqCst);
        })
    };
    drop(audit);

    // Guarded: runs when the request's scope ends, and records how it ended.
    let flush = {
        let soak = Arc::clone(&soak);
        let request = scope.clone();
        scope.task().name("flush").guarded().spawn(async move {
            request.cancelled().await;
            let ended = match request.cancel_reason() {
                Some(CancelReason::Completed) => ENDED_COMPLETED,
                Some(CancelReason::Dropped) => ENDED_DROPPED,
                _ => ENDED_OTHER,
            };
            soak.ended[slot].store(ended, Ordering::SeqCst);
            soak.flushes[slot].fetch_add(1, Ordering::SeqCst);
        })
    };
    drop(flush);

    // Never finishes: exactly one of its hooks must run when the scope ends.
    let background = {
        let (on_done, on_cancel) = (Arc::clone(&soak), Arc::clone(&soak));
        scope.spawn_with_hooks(
            pending::<()>(),
            move || {
                on_done.hooks_completed.fetch_add(1, Ordering::SeqCst);
            },
            move || {
                on_cancel.hooks_cancelled.fetch_add(1, Ordering::SeqCst);
            },
        )
    };
    drop(background);

    let deadline = scope
        .task()
        .name("deadline")
        .timeout(Duration::from_millis(2))
        .spawn(pending::<()>());

    if plan.panic {
        let flaky = scope_spawn!("flaky", flaky(Arc::clone(&soak), id));
        let (seen_tx, seen) = oneshot::channel::<()>();
        let watcher = {
            let soak = Arc::clone(&soak);
            scope_spawn_guarded!("panic-watch", async move {
                match flaky.await {
                    Err(TaskError::Panicked(message)) if message == injected_panic_message(id) => {
                        soak.panics_observed.fetch_add(1, Ordering::SeqCst);
                    }
                    other => soak.unexpected(format!("request {id}: `flaky` gave {other:?}")),
                }
                let _ = seen_tx.send(());
            })
        };
        drop(watcher);
        // The panic happens before the client may hang up: the count of
        // injected panics is then exactly the planned one.
        if seen.await.is_err() {
            soak.unexpected(format!("request {id}: the panic watcher vanished"));
        }
    }

    if plan.disconnect {
        let client = soak.spawned.lock().unwrap().remove(&id);
        match client {
            Some(client) => {
                let _ = client.send(());
            }
            None => soak.unexpected(format!("request {id}: no client waits for the signal")),
        }
        // The client hangs up; hyper drops this future, and with it the scope.
        pending::<()>().await;
    }

    match deadline.await {
        Err(TaskError::TimedOut) => {
            soak.timed_out.fetch_add(1, Ordering::SeqCst);
        }
        other => soak.unexpected(format!("request {id}: `deadline` gave {other:?}")),
    }
    format!("ok {id}")
}

/// One client: takes request ids from `next` until `end`, one at a time.
async fn drive(
    addr: SocketAddr,
    soak: Arc<Soak>,
    client: TestClient,
    next: Arc<AtomicU64>,
    end: u64,
) {
    loop {
        let id = next.fetch_add(1, Ordering::SeqCst);
        if id >= end {
            return;
        }
        let url = format!("http://{addr}/work/{id}");
        if soak.config.plan(id).disconnect {
            let (tx, spawned) = oneshot::channel();
            soak.spawned.lock().unwrap().insert(id, tx);
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(format!("GET /work/{id} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
                .await
                .unwrap();
            within("a handler to spawn its tasks", spawned)
                .await
                .expect("the handler signals");
            drop(stream); // hang up mid-request
        } else {
            let (status, body) = get_text(&client, url).await;
            assert_eq!(status, 200, "request {id}: {body}");
            assert_eq!(body, format!("ok {id}"));
        }
    }
}

/// Waits (bounded) until the server root has no live task.
async fn settle(root: &Scope) -> Duration {
    let started = Instant::now();
    while root.live_tasks() != 0 {
        assert!(
            started.elapsed() < SETTLE_GUARD,
            "hang guard: {} task(s) still live {SETTLE_GUARD:?} after the round",
            root.live_tasks()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_requests_with_hangups_and_panics_leave_nothing_behind() {
    let config = Config::from_env();
    let per_round = config.per_round();
    let total = config.total();
    let planned: Vec<Plan> = (0..total).map(|id| config.plan(id)).collect();
    let planned_disconnects = planned.iter().filter(|p| p.disconnect).count() as u64;
    let planned_panics = planned.iter().filter(|p| p.panic).count() as u64;
    println!(
        "soak: {total} requests: a warm-up of {}, then {} rounds of {per_round}; \
         {} clients at once; {planned_disconnects} hang up, {planned_panics} panic (seed {:#x})",
        config.warmup, config.rounds, config.concurrency, config.seed
    );

    // Injected panics are expected: keep them off stderr, show any other.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if !message.starts_with("injected panic in request ") {
            default_hook(info);
        }
    }));

    let soak = Arc::new(Soak::new(config));
    let root = Scope::builder().name("server").build();
    let app = Router::new()
        .route("/work/{id}", get(work))
        .route("/ping", get(|| async { "pong" }))
        .with_state(Arc::clone(&soak))
        .layer(
            ScopeSpawnLayer::new()
                .parent(&root)
                .timeout(Duration::from_secs(5)),
        );
    let server = serve(app).await;
    // One client per worker, kept across rounds, with at most one pooled
    // connection: the set of open connections is the same after every round.
    let clients: Vec<TestClient> = (0..config.concurrency)
        .map(|_| {
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(1)
                .build_http()
        })
        .collect();

    let soak_started = Instant::now();
    let mut after_round = Vec::new();
    for (round, ids) in config.rounds().into_iter().enumerate() {
        let round_started = Instant::now();
        let next = Arc::new(AtomicU64::new(ids.start));
        let workers: Vec<_> = clients
            .iter()
            .map(|client| {
                tokio::spawn(drive(
                    server.addr,
                    Arc::clone(&soak),
                    client.clone(),
                    Arc::clone(&next),
                    ids.end,
                ))
            })
            .collect();
        for worker in workers {
            worker.await.expect("a client panicked");
        }
        let settled_in = settle(&root).await;
        // Let the server's connection tasks of the clients that hung up
        // finish (they end with their handlers, a moment later): noise only,
        // the checks above and below do not depend on it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let bytes = live_bytes();
        println!(
            "round {round}: {} requests in {:?} (settled in {settled_in:?}); live heap {bytes} B{}",
            ids.end - ids.start,
            round_started.elapsed(),
            match after_round.get(1) {
                Some(&first) => format!(" ({:+} B vs round 1)", bytes - first),
                None if round == 0 => " (warm-up)".to_owned(),
                None => " (reference)".to_owned(),
            }
        );
        after_round.push(bytes);
    }
    println!("soak: {:?} in all", soak_started.elapsed());

    // The server still answers a plain request.
    let (status, body) = get_text(&clients[0], server.url("/ping")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "pong"));

    // Every guarded side effect happened exactly once, and each request's
    // scope ended the way its client did.
    let unexpected = std::mem::take(&mut *soak.unexpected.lock().unwrap());
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    for (id, plan) in planned.iter().enumerate() {
        let audits = soak.audits[id].load(Ordering::SeqCst);
        let flushes = soak.flushes[id].load(Ordering::SeqCst);
        assert_eq!((audits, flushes), (1, 1), "request {id}: audits, flushes");
        let expected = if plan.disconnect {
            ENDED_DROPPED
        } else {
            ENDED_COMPLETED
        };
        assert_eq!(
            soak.ended[id].load(Ordering::SeqCst),
            expected,
            "request {id} ended"
        );
    }
    assert!(soak.spawned.lock().unwrap().is_empty());

    // Exactly one hook per hooked task: every one cancelled, none completed.
    assert_eq!(soak.hooks_cancelled.load(Ordering::SeqCst), total);
    assert_eq!(soak.hooks_completed.load(Ordering::SeqCst), 0);
    // Every answered request saw its task time out.
    assert_eq!(
        soak.timed_out.load(Ordering::SeqCst),
        total - planned_disconnects
    );
    // No panic lost.
    let injected = soak.panics_injected.load(Ordering::SeqCst);
    let observed = soak.panics_observed.load(Ordering::SeqCst);
    println!("panics: {planned_panics} planned, {injected} injected, {observed} observed");
    assert_eq!(injected, planned_panics);
    assert_eq!(observed, injected);

    // No growth from round to round once warmed up.
    let reference = after_round[1];
    let last = *after_round.last().unwrap();
    let max = *after_round[1..].iter().max().unwrap();
    println!(
        "live heap after round 1: {reference} B, after the last round: {last} B \
         ({:+} B; highest {:+} B; bound {MAX_GROWTH} B)",
        last - reference,
        max - reference
    );
    assert!(
        last - reference < MAX_GROWTH,
        "the live heap grew by {} B from round 1 to round {} (bound {MAX_GROWTH} B): {after_round:?}",
        last - reference,
        config.rounds
    );

    // Nothing is left for a shutdown to find.
    assert_eq!(root.live_tasks(), 0);
    server.stopped().await;
    let report = within("the root's shutdown", root.shutdown(Duration::from_secs(1))).await;
    assert_eq!(report.total(), 0, "{report}");
}
