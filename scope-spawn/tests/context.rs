//! Context: typed values looked up through the parent chain, and `Scope::current()`.

use std::sync::Arc;

use scope_spawn::{CancelReason, Scope};

#[derive(Debug, PartialEq)]
struct RequestId(u64);

#[derive(Debug, PartialEq)]
struct Tenant(&'static str);

#[tokio::test]
async fn a_value_set_on_a_scope_is_visible_in_its_tasks_and_children() {
    let request = Scope::new();
    request.insert(RequestId(42));
    let child = request.child();
    let grandchild = child.child();
    grandchild.insert(Tenant("acme"));

    let seen = grandchild
        .spawn(async {
            let scope = Scope::current().unwrap();
            (scope.get::<RequestId>(), scope.get::<Tenant>())
        })
        .await
        .unwrap();
    assert_eq!(seen.0.as_deref(), Some(&RequestId(42)));
    assert_eq!(seen.1.as_deref(), Some(&Tenant("acme")));
    assert_eq!(
        request.get::<Tenant>(),
        None,
        "context does not flow upwards"
    );
}

#[tokio::test]
async fn the_nearest_value_shadows_an_ancestors() {
    let parent = Scope::new();
    parent.insert(RequestId(1));
    let child = parent.child();
    child.insert(RequestId(2));
    assert_eq!(child.get::<RequestId>().as_deref(), Some(&RequestId(2)));
    assert_eq!(parent.get::<RequestId>().as_deref(), Some(&RequestId(1)));
    child.insert(RequestId(3));
    assert_eq!(child.get::<RequestId>().as_deref(), Some(&RequestId(3)));
}

#[tokio::test]
async fn current_is_the_spawning_scope_inside_tasks_and_nested_tasks() {
    let guard = Scope::builder().name("outer").build();
    let (outer, inner) = guard
        .spawn(async {
            let outer = Scope::current().unwrap();
            let inner = outer
                .spawn(async { Scope::current().unwrap().name().to_owned() })
                .await
                .unwrap();
            (outer.name().to_owned(), inner)
        })
        .await
        .unwrap();
    assert_eq!(outer, "outer");
    assert_eq!(inner, "outer");
}

#[tokio::test]
async fn current_is_none_outside_any_scope() {
    assert!(Scope::current().is_none());
    assert!(
        tokio::spawn(async { Scope::current() })
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn current_outside_any_runtime_is_none() {
    assert!(Scope::current().is_none());
}

#[tokio::test]
async fn in_scope_sets_current_without_spawning() {
    let guard = Scope::builder().name("here").build();
    let name = guard
        .in_scope(async { Scope::current().unwrap().name().to_owned() })
        .await;
    assert_eq!(name, "here");
    assert_eq!(guard.in_scope_sync(Scope::current), Some(guard.clone()));
}

#[tokio::test]
async fn global_is_one_process_wide_root() {
    let a = Scope::global();
    let b = Scope::global();
    assert_eq!(a, b);
    assert_eq!(a.name(), "global");
    assert!(a.parent().is_none());
}

/// Records the current scope's id when dropped.
struct NoteScopeOnDrop(std::sync::mpsc::Sender<Option<scope_spawn::ScopeId>>);

impl Drop for NoteScopeOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(Scope::current().map(|scope| scope.id()));
    }
}

#[tokio::test]
async fn a_guards_run_drops_its_future_in_the_scope_before_ending_it() {
    // Completed, and dropped while pending: either way the future goes while
    // the scope is current and not cancelled yet, then the scope ends.
    for complete in [true, false] {
        let guard = Scope::new();
        let scope = guard.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let cancelled_at_drop = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let seen = Arc::clone(&cancelled_at_drop);
        let note = (NoteScopeOnDrop(tx), CancelledOnDrop(seen));
        let mut run = Box::pin(guard.run(async move {
            let _note = note;
            if !complete {
                std::future::pending::<()>().await;
            }
        }));
        if complete {
            run.as_mut().await;
        } else {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(run.as_mut().poll(&mut cx).is_pending());
        }
        drop(run);
        assert_eq!(rx.try_recv(), Ok(Some(scope.id())), "dropped in the scope");
        assert!(
            !cancelled_at_drop.load(std::sync::atomic::Ordering::SeqCst),
            "before the scope was cancelled"
        );
        let reason = if complete {
            CancelReason::Completed
        } else {
            CancelReason::Dropped
        };
        assert_eq!(scope.cancel_reason(), Some(reason));
    }
}

/// Records whether the current scope was cancelled when dropped.
struct CancelledOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelledOnDrop {
    fn drop(&mut self) {
        let cancelled = Scope::current().is_some_and(|scope| scope.is_cancelled());
        self.0.store(cancelled, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_task_drops_its_future_in_its_scope_before_join_returns() {
    let guard = Scope::new();
    let id = guard.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let task = guard
        .task()
        .timeout(std::time::Duration::from_secs(1))
        .spawn(async move {
            let _note = NoteScopeOnDrop(tx);
            std::future::pending::<()>().await
        });
    assert_eq!(task.await, Err(scope_spawn::TaskError::TimedOut));
    guard.join().await.unwrap();
    assert_eq!(
        rx.try_recv(),
        Ok(Some(id)),
        "dropped in its scope, before join returned"
    );
}

/// A future written by hand, which keeps what it holds until it is dropped,
/// also after it has completed (an async block lets go of its locals as it
/// completes).
struct HoldsUntilDropped {
    _held: NoteScopeOnDrop,
}

impl std::future::Future for HoldsUntilDropped {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_task_drops_its_future_in_its_scope_before_join_returns() {
    for _ in 0..100 {
        let guard = Scope::new();
        let id = guard.id();
        let (tx, rx) = std::sync::mpsc::channel();
        guard
            .spawn(HoldsUntilDropped {
                _held: NoteScopeOnDrop(tx),
            })
            .await
            .unwrap();
        guard.join().await.unwrap();
        assert_eq!(
            rx.try_recv(),
            Ok(Some(id)),
            "dropped in its scope, before join returned"
        );
    }
}

#[test]
fn tasks_dropped_with_their_runtime_inside_another_scope_drop_in_their_own_and_give_it_back() {
    // A runtime dropped while a scope is current drops its tasks' futures on
    // this thread: each in its own task's scope, and the outer scope is
    // current again afterwards.
    let outer = Scope::builder().name("outer").build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (inner, ids) = runtime.block_on(async {
        let inner = Scope::new();
        let mut ids = Vec::new();
        for _ in 0..3 {
            // Moved in, so that it goes with the future whether or not the
            // task was ever polled.
            let note = NoteScopeOnDrop(tx.clone());
            drop(inner.spawn(async move {
                let _note = note;
                std::future::pending::<()>().await
            }));
            ids.push(inner.id());
        }
        (inner, ids)
    });
    outer.in_scope_sync(|| {
        drop(runtime);
        assert_eq!(Scope::current().map(|s| s.id()), Some(outer.id()));
    });
    let dropped_in: Vec<_> = rx.try_iter().collect();
    assert_eq!(dropped_in, ids.into_iter().map(Some).collect::<Vec<_>>());
    assert_eq!(inner.live_tasks(), 0);
    assert_eq!(Scope::current(), None);
}

#[tokio::test]
async fn hooks_run_in_the_tasks_scope() {
    let guard = Scope::new();
    let id = guard.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done, cancelled) = (tx.clone(), tx);
    let finished = guard.spawn_with_hooks(
        async {},
        move || done.send(Scope::current().map(|s| s.id())).unwrap(),
        || {},
    );
    finished.await.unwrap();
    assert_eq!(rx.try_recv(), Ok(Some(id)), "on_completion");

    let stopped = guard.spawn_with_hooks(
        std::future::pending::<()>(),
        || {},
        move || cancelled.send(Scope::current().map(|s| s.id())).unwrap(),
    );
    guard.cancel();
    assert!(stopped.await.is_err());
    assert_eq!(rx.try_recv(), Ok(Some(id)), "on_cancellation");
}
