//! Property tests: random sequences of spawn / child / cancel / drop / defer /
//! release / shutdown over a tree of scopes, checking the invariants of the
//! crate docs ("Guarantees") after every step and at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use scope_spawn::{CancelReason, Scope, ScopeGuard, TaskError, TaskHandle};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Never finishes on its own.
    Pending,
    /// Finishes when released.
    Gated,
    /// Guarded, finishes when released.
    GuardedGated,
    /// Guarded, never finishes: only a shutdown deadline stops it.
    GuardedStuck,
    /// Panics at once.
    Panics,
}

#[derive(Debug, Clone)]
enum Op {
    Child(usize),
    Spawn(usize, Kind),
    /// Cancels a scope, with a message when given one.
    Cancel(usize, Option<u8>),
    Drop(usize),
    End(usize),
    Defer(usize),
    Release(usize),
    Shutdown(usize),
    Yield,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Pending),
        Just(Kind::Gated),
        Just(Kind::GuardedGated),
        Just(Kind::GuardedStuck),
        Just(Kind::Panics),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..8usize).prop_map(Op::Child),
        5 => (0..8usize, kind()).prop_map(|(s, k)| Op::Spawn(s, k)),
        1 => (0..8usize, proptest::option::of(0..4u8)).prop_map(|(s, m)| Op::Cancel(s, m)),
        1 => (0..8usize).prop_map(Op::Drop),
        1 => (0..8usize).prop_map(Op::End),
        1 => (0..8usize).prop_map(Op::Defer),
        2 => (0..32usize).prop_map(Op::Release),
        1 => (0..8usize).prop_map(Op::Shutdown),
        1 => Just(Op::Yield),
    ]
}

struct Node {
    scope: Scope,
    guard: Option<ScopeGuard>,
    parent: Option<usize>,
    /// The reason the model expects: the first cause that reached this scope.
    expected: Option<CancelReason>,
    shut_down: bool,
    /// Finalizer sequence numbers, and whether the guard was alive when each
    /// was registered (only those are ordered: LIFO).
    finalizers: Vec<(usize, bool)>,
}

struct Task {
    node: usize,
    kind: Kind,
    refused: bool,
    handle: TaskHandle<()>,
    gate: Option<oneshot::Sender<()>>,
}

struct Model {
    nodes: Vec<Node>,
    tasks: Vec<Task>,
    log: Arc<Mutex<Vec<(usize, usize)>>>,
}

impl Model {
    fn new() -> Self {
        let guard = Scope::builder().name("root").build();
        Model {
            nodes: vec![Node {
                scope: Scope::clone(&guard),
                guard: Some(guard),
                parent: None,
                expected: None,
                shut_down: false,
                finalizers: Vec::new(),
            }],
            tasks: Vec::new(),
            log: Arc::default(),
        }
    }

    fn pick(&self, i: usize) -> usize {
        i % self.nodes.len()
    }

    /// Records `reason` on `node` (if it has none) and `ParentCancelled` below.
    fn cancelled(&mut self, node: usize, reason: CancelReason) {
        if self.nodes[node].expected.is_none() {
            self.nodes[node].expected = Some(reason);
        }
        for child in 0..self.nodes.len() {
            if self.nodes[child].parent == Some(node) {
                self.cancelled(child, CancelReason::ParentCancelled);
            }
        }
    }

    fn ended_here_or_above(&self, node: usize) -> bool {
        let mut n = Some(node);
        while let Some(i) = n {
            if self.nodes[i].scope.is_ended() {
                return true;
            }
            n = self.nodes[i].parent;
        }
        false
    }

    fn shutting_down(&self, node: usize) -> bool {
        let mut n = Some(node);
        while let Some(i) = n {
            if self.nodes[i].shut_down {
                return true;
            }
            n = self.nodes[i].parent;
        }
        false
    }

    async fn apply(&mut self, op: Op) {
        match op {
            Op::Child(i) => {
                let parent = self.pick(i);
                let guard = self.nodes[parent].scope.child();
                let expected = self.nodes[parent]
                    .expected
                    .as_ref()
                    .map(|_| CancelReason::ParentCancelled);
                self.nodes.push(Node {
                    scope: Scope::clone(&guard),
                    guard: Some(guard),
                    parent: Some(parent),
                    expected,
                    shut_down: false,
                    finalizers: Vec::new(),
                });
            }
            Op::Spawn(i, kind) => {
                let node = self.pick(i);
                let scope = &self.nodes[node].scope;
                let (tx, rx) = oneshot::channel::<()>();
                let gated = async move {
                    let _ = rx.await;
                };
                let handle = match kind {
                    Kind::Pending => scope.spawn(std::future::pending()),
                    Kind::Gated => scope.spawn(gated),
                    Kind::GuardedGated => scope.spawn_guarded(gated),
                    Kind::GuardedStuck => scope.spawn_guarded(std::future::pending()),
                    Kind::Panics => scope.spawn(async { panic!("injected") }),
                };
                // Refusals follow the documented rules: an ended scope (or a
                // scope under an ended one) refuses everything, a cancelled one
                // all but guarded tasks, a shut-down one everything.
                let ended = self.ended_here_or_above(node);
                let refused = match kind {
                    Kind::GuardedGated | Kind::GuardedStuck => self.shutting_down(node) || ended,
                    _ => self.nodes[node].expected.is_some() || ended,
                };
                if refused {
                    assert!(handle.is_finished(), "a refused spawn resolves at once");
                }
                self.tasks.push(Task {
                    node,
                    kind,
                    refused,
                    handle,
                    gate: Some(tx),
                });
            }
            Op::Cancel(i, message) => {
                let node = self.pick(i);
                let reason = match message {
                    None => CancelReason::Requested(None),
                    Some(k) => CancelReason::requested(format!("message {k}")),
                };
                self.nodes[node].scope.cancel_with(reason.clone());
                self.cancelled(node, reason);
            }
            // The root stays: only its shutdown, at the end, can stop a stuck
            // guarded task in a scope whose guard is gone.
            Op::Drop(i) if self.nodes.len() > 1 => {
                let node = 1 + i % (self.nodes.len() - 1);
                if self.nodes[node].guard.take().is_some() {
                    self.cancelled(node, CancelReason::Dropped);
                }
            }
            Op::End(i) if self.nodes.len() > 1 => {
                let node = 1 + i % (self.nodes.len() - 1);
                if let Some(guard) = self.nodes[node].guard.take() {
                    guard.end_with(CancelReason::Completed);
                    self.cancelled(node, CancelReason::Completed);
                }
            }
            Op::Defer(i) => {
                let node = self.pick(i);
                let seq = self.nodes[node].finalizers.len();
                let owned = self.nodes[node].guard.is_some() && !self.nodes[node].scope.is_ended();
                self.nodes[node].finalizers.push((seq, owned));
                let log = self.log.clone();
                self.nodes[node].scope.defer(async move {
                    log.lock().unwrap().push((node, seq));
                });
            }
            Op::Release(t) => {
                if !self.tasks.is_empty() {
                    let t = t % self.tasks.len();
                    if let Some(gate) = self.tasks[t].gate.take() {
                        let _ = gate.send(());
                    }
                }
            }
            Op::Shutdown(i) if self.nodes.len() > 1 => {
                let node = 1 + i % (self.nodes.len() - 1);
                if let Some(guard) = self.nodes[node].guard.take() {
                    let live = guard.live_tasks();
                    self.nodes[node].shut_down = true;
                    let report = guard.shutdown(Duration::from_millis(50)).await;
                    assert_eq!(report.total(), live, "{report:?}");
                    assert_eq!(report.still_running, 0, "{report:?}");
                    assert_eq!(self.nodes[node].scope.live_tasks(), 0);
                    self.cancelled(node, CancelReason::Shutdown);
                }
            }
            Op::Drop(_) | Op::End(_) | Op::Shutdown(_) => {}
            Op::Yield => tokio::task::yield_now().await,
        }
        self.check_reasons();
    }

    fn check_reasons(&self) {
        for (i, node) in self.nodes.iter().enumerate() {
            assert_eq!(node.scope.cancel_reason(), node.expected, "scope {i}");
        }
    }

    async fn finish(mut self) {
        // End everything: shut the root down, with every guard dropped first
        // (a dropped guard's finalizers then run in the background).
        for node in self.nodes.iter_mut().skip(1).rev() {
            node.guard = None;
        }
        if let Some(root) = self.nodes[0].guard.take() {
            root.shutdown(Duration::from_millis(50)).await;
        }
        assert_eq!(self.nodes[0].scope.live_tasks(), 0);
        for task in self.tasks {
            let finished = tokio::time::timeout(Duration::from_secs(5), task.handle)
                .await
                .expect("every task settles");
            if task.refused {
                assert!(finished.unwrap_err().is_cancelled(), "refused as cancelled");
                continue;
            }
            // A task stopped by its scope's cancellation reports the scope's
            // reason (the first one, which never changes), data included.
            if let Err(TaskError::Cancelled(reason)) = &finished {
                let scope = &self.nodes[task.node].scope;
                assert_eq!(
                    Some(reason),
                    scope.cancel_reason().as_ref(),
                    "{:?}",
                    task.kind
                );
            }
            match (task.kind, finished) {
                (Kind::Panics, Err(TaskError::Panicked(msg))) => assert_eq!(msg, "injected"),
                // Cancelled before its first poll.
                (Kind::Panics, Err(TaskError::Cancelled(_))) => {}
                (Kind::Pending, Err(TaskError::Cancelled(_))) => {}
                (Kind::Gated, Ok(()) | Err(TaskError::Cancelled(_))) => {}
                // Guarded tasks are never cancelled once running: they finish
                // or are aborted at a shutdown deadline (or were refused).
                (Kind::GuardedGated | Kind::GuardedStuck, Ok(()) | Err(TaskError::Aborted)) => {}
                (kind, other) => panic!("{kind:?} ended as {other:?}"),
            }
        }
        // Every scope ends, and its finalizers ran exactly once, LIFO.
        for node in &self.nodes {
            let ended = async {
                while !node.scope.is_ended() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(5), ended)
                .await
                .expect("every scope ends");
        }
        // Finalizers of scopes that ended without an owner run in the background.
        let registered: usize = self.nodes.iter().map(|n| n.finalizers.len()).sum();
        let all_ran = async {
            while self.log.lock().unwrap().len() < registered {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), all_ran)
            .await
            .expect("every finalizer runs");
        tokio::time::sleep(Duration::from_millis(10)).await; // and none runs twice
        let log = self.log.lock().unwrap();
        let mut ran: HashMap<usize, Vec<usize>> = HashMap::new();
        for (node, seq) in log.iter() {
            ran.entry(*node).or_default().push(*seq);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let ran = ran.remove(&i).unwrap_or_default();
            let mut once = ran.clone();
            once.sort_unstable();
            let all: Vec<usize> = node.finalizers.iter().map(|(seq, _)| *seq).collect();
            assert_eq!(once, all, "scope {i}: every finalizer runs exactly once");
            let owned: Vec<usize> = node
                .finalizers
                .iter()
                .filter(|f| f.1)
                .map(|f| f.0)
                .collect();
            let ran_owned: Vec<usize> = ran
                .iter()
                .copied()
                .filter(|seq| owned.contains(seq))
                .collect();
            let lifo: Vec<usize> = owned.iter().rev().copied().collect();
            assert_eq!(ran_owned, lifo, "scope {i}: LIFO");
        }
    }
}

/// 96 cases in a test run; more by hand with `PROPTEST_CASES`.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(96);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_operations_keep_the_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut model = Model::new();
            for op in ops {
                model.apply(op).await;
            }
            model.finish().await;
        });
    }
}
