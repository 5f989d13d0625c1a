//! Over TCP, abuse: one request tries to spawn a million tasks under the
//! layer's `max_tasks(8)` (and the default `max_queued`, 1024). The first 8
//! run, the next 1024 wait, every other spawn is refused at once with
//! `TaskError::QueueFull`; the heap stays bounded by what 1,032 tasks take —
//! far below what a million would — and the server keeps answering other
//! clients meanwhile.
//!
//! A second request does the same with tasks that end after a millisecond
//! and a small `max_queued`: slots and queue places are recycled, the scope
//! never holds more than `max_tasks + max_queued` tasks, and the heap stays
//! bounded too.
//!
//! The heap is measured with a counting global allocator (`stats_alloc`; the
//! workspace forbids `unsafe`, so the test cannot implement `GlobalAlloc`
//! itself): live bytes, sampled by the flooding handler every 1,024 spawns.
//! The allocator counts the whole process, so the tests of this file run one
//! at a time.

mod common;

use std::alloc::System;
use std::future::{pending, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{TestClient, get_text, serve, within};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use scope_spawn::{Scope, TaskError, TaskHandle};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::sync::oneshot;
use tower_scope_spawn::ScopeSpawnLayer;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Held by each test: one measures the heap at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Spawns the flooding request attempts.
const ATTEMPTS: usize = 1_000_000;
const MAX_TASKS: usize = 8;
const MAX_QUEUED: usize = ScopeSpawnLayer::DEFAULT_MAX_QUEUED;
/// Spawns admitted: running or waiting. Every later one is refused.
const ADMITTED: usize = MAX_TASKS + MAX_QUEUED;
/// Where the flooding handler stops until the test has looked around.
const PAUSE_AT: usize = ATTEMPTS / 2;
/// How often the flooding handler samples the heap, and yields.
const SAMPLE_EVERY: usize = 1024;
/// The heap one admitted task may take: its tokio task (the future, with the
/// scope's wrapper around it), its record, its place in the scope's map, its
/// queue slot. Measured: about 950 B in a debug build, less in release.
const BUDGET_PER_TASK: i64 = 2 << 10;
/// Room for what else the process allocates meanwhile (the other clients,
/// hyper's buffers, tokio's queues).
const SLACK: i64 = 1 << 20;
/// How long another client's request may take while the flood runs.
const PING_BOUND: Duration = Duration::from_secs(2);

/// The live heap bytes of this process. (`stats_alloc` already counts a
/// `realloc` in `bytes_allocated` or `bytes_deallocated`; its
/// `bytes_reallocated` sums those up again and must not be added.)
fn live_bytes() -> i64 {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

#[derive(Debug, Default)]
struct Tally {
    /// Spawns whose handle was pending: the task runs or waits.
    admitted: usize,
    /// Spawns whose handle resolved to `QueueFull` at once.
    refused: usize,
    /// Anything else (the first few).
    unexpected: Vec<String>,
    /// The highest live heap sampled.
    peak: i64,
}

struct Flood {
    /// Told (once) when the handler is half-way.
    paused: Mutex<Option<oneshot::Sender<Tally>>>,
    /// Awaited (once) before the second half.
    resume: Mutex<Option<oneshot::Receiver<()>>>,
}

/// Polls a handle once: a refused spawn is ready at once, an admitted one is
/// pending (its task never ends).
async fn poll_once(handle: &mut TaskHandle<()>) -> Poll<Result<(), TaskError>> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *handle).poll(cx))).await
}

/// Tries to spawn a million never-ending tasks into its request's scope.
async fn flood(State(flood): State<Arc<Flood>>, scope: Scope) -> String {
    let mut tally = Tally {
        peak: live_bytes(),
        ..Tally::default()
    };
    for i in 0..ATTEMPTS {
        if i == PAUSE_AT {
            tally.peak = tally.peak.max(live_bytes());
            let paused = flood.paused.lock().unwrap().take().unwrap();
            let resume = flood.resume.lock().unwrap().take().unwrap();
            paused
                .send(Tally {
                    unexpected: tally.unexpected.clone(),
                    ..tally
                })
                .unwrap();
            resume.await.unwrap();
        }
        let mut handle = scope.spawn(pending::<()>());
        match poll_once(&mut handle).await {
            Poll::Pending if i < ADMITTED => tally.admitted += 1,
            Poll::Ready(Err(TaskError::QueueFull)) if i >= ADMITTED => tally.refused += 1,
            other if tally.unexpected.len() < 10 => {
                tally.unexpected.push(format!("spawn #{i}: {other:?}"));
            }
            _ => {}
        }
        drop(handle);
        if i % SAMPLE_EVERY == 0 {
            tally.peak = tally.peak.max(live_bytes());
            // A handler that loops this long yields now and then; the point
            // here is the memory, not tokio's fairness to a hogging task.
            tokio::task::yield_now().await;
        }
    }
    tally.peak = tally.peak.max(live_bytes());
    format!(
        "{} {} {} {:?}",
        tally.admitted, tally.refused, tally.peak, tally.unexpected
    )
}

fn one_connection_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build_http()
}

/// Sends plain requests one after the other until `stop`; returns how many
/// and the slowest.
async fn ping_until(client: TestClient, url: String, stop: Arc<AtomicBool>) -> (usize, Duration) {
    let (mut count, mut slowest) = (0, Duration::ZERO);
    while !stop.load(Ordering::SeqCst) {
        let sent = Instant::now();
        let (status, body) = get_text(&client, url.clone()).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "pong"));
        slowest = slowest.max(sent.elapsed());
        count += 1;
    }
    (count, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_spawning_a_million_tasks_is_bounded_and_the_server_goes_on() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (paused_tx, paused) = oneshot::channel();
    let (resume, resume_rx) = oneshot::channel();
    let state = Arc::new(Flood {
        paused: Mutex::new(Some(paused_tx)),
        resume: Mutex::new(Some(resume_rx)),
    });
    let root = Scope::builder().name("server").build();
    let app = Router::new()
        .route("/flood", get(flood))
        .route("/ping", get(|| async { "pong" }))
        .with_state(state)
        .layer(ScopeSpawnLayer::new().parent(&root).max_tasks(MAX_TASKS));
    let server = serve(app).await;
    let ping = server.url("/ping");

    // Warm up the clients that will run meanwhile, then take the baseline.
    let pingers: Vec<TestClient> = (0..8).map(|_| one_connection_client()).collect();
    for client in &pingers {
        get_text(client, ping.clone()).await;
    }
    let flooder = one_connection_client();
    get_text(&flooder, ping.clone()).await;
    let baseline = live_bytes();

    let began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let background_pinger = tokio::spawn(ping_until(
        pingers[0].clone(),
        ping.clone(),
        Arc::clone(&stop),
    ));
    let flood_url = server.url("/flood");
    let flood_request = tokio::spawn(async move { get_text(&flooder, flood_url).await });

    // Half-way: 1,032 tasks admitted and live, the rest refused.
    let half = within("the flood to reach half-way", paused).await.unwrap();
    let half_heap = live_bytes() - baseline;
    assert!(half.unexpected.is_empty(), "{:?}", half.unexpected);
    assert_eq!(half.admitted, ADMITTED);
    assert_eq!(half.refused, PAUSE_AT - ADMITTED);
    assert_eq!(root.live_tasks(), ADMITTED);

    // Other clients are served while the flooding request holds its tasks.
    let sent = Instant::now();
    let pings: Vec<_> = pingers[1..]
        .iter()
        .map(|client| {
            let (client, url) = (client.clone(), ping.clone());
            tokio::spawn(async move { get_text(&client, url).await })
        })
        .collect();
    for ping in pings {
        let (status, body) = within("a ping", ping).await.unwrap();
        assert_eq!((status.as_u16(), body.as_str()), (200, "pong"));
    }
    let pings_took = sent.elapsed();
    assert!(pings_took < PING_BOUND, "7 pings took {pings_took:?}");

    resume.send(()).unwrap();
    let (status, body) = within("the flood", flood_request).await.unwrap();
    let flood_took = began.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (pinged, slowest_ping) = within("the background pinger", background_pinger)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let mut fields = body.splitn(4, ' ');
    let admitted: usize = fields.next().unwrap().parse().unwrap();
    let refused: usize = fields.next().unwrap().parse().unwrap();
    let peak: i64 = fields.next().unwrap().parse().unwrap();
    let unexpected = fields.next().unwrap();

    // Every spawn past the bound was refused with `QueueFull`, at once.
    assert_eq!(unexpected, "[]");
    assert_eq!(admitted, ADMITTED);
    assert_eq!(refused, ATTEMPTS - ADMITTED);

    // The heap stayed bounded by what the admitted tasks take, far below what
    // a million tasks would.
    let peak_growth = peak - baseline;
    let per_task = half_heap / ADMITTED as i64;
    let bound = ADMITTED as i64 * BUDGET_PER_TASK + SLACK;
    let a_million = ATTEMPTS as i64 * per_task;
    println!(
        "flood: {ATTEMPTS} spawns in {flood_took:?}: {admitted} admitted, {refused} refused; \
         heap +{half_heap} B half-way (~{per_task} B per admitted task), peak +{peak_growth} B \
         (bound {bound} B; a million such tasks: ~{a_million} B); \
         7 pings at half-way in {pings_took:?}; {pinged} background pings, slowest {slowest_ping:?}"
    );
    assert!(
        peak_growth < bound,
        "peak heap growth {peak_growth} B, bound {bound} B"
    );
    assert!(per_task <= BUDGET_PER_TASK, "{per_task} B per task");
    assert!(
        peak_growth * 100 < a_million,
        "{peak_growth} B is not far below {a_million} B"
    );
    assert!(slowest_ping < PING_BOUND, "slowest ping: {slowest_ping:?}");

    // The request ended: its tasks are cancelled and their memory returned.
    within("the flood's tasks to end", async {
        while root.live_tasks() != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = live_bytes() - baseline;
    println!("heap after the flood: {after:+} B vs before");
    assert!(after < SLACK, "{after} B more than before the flood");
    server.stopped().await;
}

/// The churning request's attempts, limit and queue bound.
const CHURN_ATTEMPTS: usize = 200_000;
const CHURN_MAX_TASKS: usize = 8;
const CHURN_MAX_QUEUED: usize = 64;
const CHURN_ADMITTED: usize = CHURN_MAX_TASKS + CHURN_MAX_QUEUED;

/// Tries to spawn 200,000 one-millisecond tasks into its request's scope;
/// answers "admitted refused most-live peak-heap unexpected".
async fn churn(scope: Scope) -> String {
    let mut tally = Tally {
        peak: live_bytes(),
        ..Tally::default()
    };
    let mut most_live = 0;
    for i in 0..CHURN_ATTEMPTS {
        let mut handle = scope.spawn(tokio::time::sleep(Duration::from_millis(1)));
        match poll_once(&mut handle).await {
            // Pending, or (if this thread was preempted for a millisecond)
            // already done: admitted either way.
            Poll::Pending | Poll::Ready(Ok(())) => tally.admitted += 1,
            Poll::Ready(Err(TaskError::QueueFull)) => tally.refused += 1,
            other if tally.unexpected.len() < 10 => {
                tally.unexpected.push(format!("spawn #{i}: {other:?}"));
            }
            _ => {}
        }
        drop(handle);
        if i % SAMPLE_EVERY == 0 {
            tally.peak = tally.peak.max(live_bytes());
            most_live = most_live.max(scope.live_tasks());
            tokio::task::yield_now().await;
        }
    }
    format!(
        "{} {} {most_live} {} {:?}",
        tally.admitted, tally.refused, tally.peak, tally.unexpected
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawning_short_tasks_past_the_queue_recycles_slots_and_stays_bounded() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let root = Scope::builder().name("server").build();
    let app = Router::new().route("/churn", get(churn)).layer(
        ScopeSpawnLayer::new()
            .parent(&root)
            .max_tasks(CHURN_MAX_TASKS)
            .max_queued(CHURN_MAX_QUEUED),
    );
    let server = serve(app).await;
    let client = one_connection_client();
    let baseline = live_bytes();

    let began = Instant::now();
    let (status, body) = get_text(&client, server.url("/churn")).await;
    let took = began.elapsed();
    assert_eq!(status, 200, "{body}");
    let mut fields = body.splitn(5, ' ');
    let admitted: usize = fields.next().unwrap().parse().unwrap();
    let refused: usize = fields.next().unwrap().parse().unwrap();
    let most_live: usize = fields.next().unwrap().parse().unwrap();
    let peak: i64 = fields.next().unwrap().parse().unwrap();
    let unexpected = fields.next().unwrap();
    let peak_growth = peak - baseline;
    let bound = CHURN_ADMITTED as i64 * BUDGET_PER_TASK + SLACK;
    println!(
        "churn: {CHURN_ATTEMPTS} spawns in {took:?}: {admitted} admitted, {refused} refused; \
         at most {most_live} live at once; peak heap +{peak_growth} B (bound {bound} B)"
    );

    assert_eq!(unexpected, "[]");
    assert_eq!(admitted + refused, CHURN_ATTEMPTS);
    // The first `max_tasks + max_queued` spawns always fit; a loop that
    // spawns far faster than 8 tasks per millisecond end fills the queue.
    assert!(admitted >= CHURN_ADMITTED, "{admitted} admitted");
    assert!(refused > 0);
    assert!(most_live <= CHURN_ADMITTED, "{most_live} live at once");
    assert!(
        peak_growth < bound,
        "peak heap growth {peak_growth} B, bound {bound} B"
    );

    within("the churn's tasks to end", async {
        while root.live_tasks() != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    server.stopped().await;
}
