//! The macros at run time: each `scope_spawn!` form spawns where it says, carries
//! the name, and propagates `Scope::current()` and context into the task.

use std::future::pending;

use scope_spawn::{
    CancelReason, Scope, TaskError, scope_drain, scope_spawn, scope_spawn_blocking,
    scope_spawn_blocking_nocontext, scope_spawn_guarded,
};
use tokio::task::JoinSet;

#[derive(Debug, PartialEq)]
struct RequestId(u32);

/// Runs `f` with a fresh scope named `name`, holding `RequestId(7)`, as current.
async fn in_request<F: std::future::Future>(name: &'static str, f: F) -> (Scope, F::Output) {
    let guard = Scope::builder().name(name).build();
    guard.insert(RequestId(7));
    let out = guard.in_scope(f).await;
    (Scope::clone(&guard), out)
}

#[tokio::test]
async fn scope_spawn_without_a_target_spawns_into_the_current_scope_with_its_context() {
    let (_scope, seen) = in_request("request", async {
        let handle = scope_spawn!(async {
            let scope = Scope::current().unwrap();
            (
                scope.name().to_owned(),
                scope.get::<RequestId>().map(|id| id.0),
            )
        });
        assert_eq!(handle.name(), None);
        handle.await.unwrap()
    })
    .await;
    assert_eq!(seen, ("request".to_owned(), Some(7)));
}

#[tokio::test]
async fn scope_spawn_outside_any_scope_uses_the_global_scope() {
    let name = scope_spawn!(async { Scope::current().unwrap().name().to_owned() })
        .await
        .unwrap();
    assert_eq!(name, "global");
}

#[tokio::test]
async fn a_named_task_carries_its_name_to_the_handle_and_the_snapshot() {
    let scope = Scope::builder().name("request").build();
    scope
        .in_scope(async {
            let handle = scope_spawn!("watcher", pending::<()>());
            assert_eq!(handle.name(), Some("watcher"));
            let computed = format!("fetch-{}", 3);
            let other = scope_spawn!(name = computed, pending::<()>());
            assert_eq!(other.name(), Some("fetch-3"));
        })
        .await;
    let names: Vec<_> = scope
        .snapshot()
        .tasks
        .into_iter()
        .filter_map(|t| t.name)
        .collect();
    assert_eq!(names, ["watcher", "fetch-3"]);
}

#[tokio::test]
async fn an_explicit_scope_or_guard_target_wins_over_the_current_scope() {
    let target = Scope::builder().name("target").build();
    let handle_target: Scope = Scope::clone(&target);
    let (_, names) = in_request("current", async {
        let by_guard = scope_spawn!(&target, async {
            Scope::current().unwrap().name().to_owned()
        });
        let by_handle = scope_spawn!(&handle_target, "named", async {
            Scope::current().unwrap().name().to_owned()
        });
        assert_eq!(by_handle.name(), Some("named"));
        (by_guard.await.unwrap(), by_handle.await.unwrap())
    })
    .await;
    assert_eq!(names, ("target".to_owned(), "target".to_owned()));
}

#[tokio::test]
async fn a_joinset_target_joins_the_set_and_is_governed_by_the_current_scope() {
    let guard = Scope::builder().name("request").build();
    let mut set = JoinSet::new();
    guard
        .in_scope(async {
            scope_spawn!(&mut set, async {
                Scope::current().unwrap().name().to_owned()
            });
            scope_spawn!(&mut set, "stuck", pending::<String>());
        })
        .await;
    let first = set.join_next().await.unwrap().unwrap();
    assert_eq!(first, "request");
    assert_eq!(
        guard.live_tasks(),
        1,
        "the stuck task is counted by the scope"
    );
    guard.cancel();
    let second = set.join_next().await.unwrap();
    assert!(second.unwrap_err().is_cancelled());
    assert_eq!(guard.live_tasks(), 0);
}

#[tokio::test]
async fn a_panic_in_a_joinset_task_reaches_the_set_as_a_panic() {
    let guard = Scope::new();
    let mut set = JoinSet::<()>::new();
    guard
        .in_scope(async {
            scope_spawn!(&mut set, async { panic!("in the set") });
        })
        .await;
    let err = set.join_next().await.unwrap().unwrap_err();
    assert!(err.is_panic());
    // With its message, which the task keeps in its record on the way.
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("in the set")
    );
    assert_eq!(guard.join().await.unwrap().failures.len(), 1);
}

#[tokio::test]
async fn blocking_forms_see_the_context_unless_told_not_to() {
    let (_, (with, without)) = in_request("request", async {
        let with = scope_spawn_blocking!("with", || {
            Scope::current()
                .and_then(|s| s.get::<RequestId>())
                .map(|id| id.0)
        });
        let without = scope_spawn_blocking_nocontext!(|| Scope::current().is_none());
        assert_eq!(with.name(), Some("with"));
        (with.await.unwrap(), without.await.unwrap())
    })
    .await;
    assert_eq!(with, Some(7));
    assert!(
        without,
        "nocontext closures run outside the scope's context"
    );
}

#[tokio::test]
async fn a_nocontext_closure_is_still_tracked_by_its_scope() {
    let guard = Scope::new();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = scope_spawn_blocking_nocontext!(&guard, move || rx.recv().unwrap());
    assert_eq!(guard.live_tasks(), 1);
    tx.send(()).unwrap();
    handle.await.unwrap();
    assert_eq!(guard.live_tasks(), 0);
}

#[tokio::test]
async fn a_guarded_task_survives_the_cancellation_of_its_scope() {
    let guard = Scope::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let plain = scope_spawn!(&guard, pending::<()>());
    let audit = scope_spawn_guarded!(&guard, "audit", async move {
        rx.await.unwrap();
        "written"
    });
    guard.cancel();
    assert!(plain.await.unwrap_err().is_cancelled());
    tx.send(()).unwrap();
    assert_eq!(audit.await, Ok("written"));
}

#[derive(Debug, PartialEq)]
enum AppError {
    Bad(u32),
    Task(String),
}

impl From<TaskError> for AppError {
    fn from(err: TaskError) -> Self {
        AppError::Task(err.to_string())
    }
}

#[tokio::test]
async fn scope_drain_lets_every_task_finish_and_returns_the_first_error() {
    let guard = Scope::new();
    let mut set = JoinSet::<Result<(), AppError>>::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let result = guard
        .in_scope(async {
            scope_spawn!(&mut set, async { Err(AppError::Bad(1)) });
            scope_spawn!(&mut set, async move {
                rx.await.unwrap();
                Err(AppError::Bad(2))
            });
            scope_spawn!(&mut set, async { panic!("third") });
            tx.send(()).unwrap();
            scope_drain!(set)
        })
        .await;
    assert!(
        set.is_empty(),
        "every task was joined, also after the first error"
    );
    // The current-thread runtime runs the tasks in spawn order.
    assert_eq!(result, Err(AppError::Bad(1)));
}

#[tokio::test]
async fn scope_drain_max_keeps_n_tasks_in_flight() {
    let guard = Scope::new();
    let mut set = JoinSet::<Result<(), AppError>>::new();
    let result = guard
        .in_scope(async {
            scope_spawn!(&mut set, async { Ok(()) });
            scope_spawn!(&mut set, pending::<Result<(), AppError>>());
            scope_spawn!(&mut set, pending::<Result<(), AppError>>());
            scope_drain!(set, max = 2)
        })
        .await;
    assert_eq!(result, Ok(()));
    assert_eq!(set.len(), 2);
}

#[tokio::test]
async fn scope_drain_maps_cancellation_through_from_task_error() {
    let guard = Scope::new();
    let mut set = JoinSet::<Result<(), AppError>>::new();
    let result = guard
        .in_scope(async {
            scope_spawn!(&mut set, pending::<Result<(), AppError>>());
            Scope::current().unwrap().cancel();
            scope_drain!(set)
        })
        .await;
    assert_eq!(
        result,
        Err(AppError::Task(
            TaskError::Cancelled(CancelReason::Requested(None)).to_string()
        ))
    );
}

#[cfg(feature = "axum")]
mod scoped {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use scope_spawn::scoped;
    use std::sync::Mutex;
    use tokio::sync::{mpsc, oneshot};
    use tower::ServiceExt;

    type Reports = mpsc::UnboundedSender<Result<(), TaskError>>;
    // One channel per test: the tests run in parallel.
    static REPORTS: Mutex<Option<Reports>> = Mutex::new(None);
    static QUICK_REPORTS: Mutex<Option<Reports>> = Mutex::new(None);
    static STARTED: Mutex<Option<oneshot::Sender<String>>> = Mutex::new(None);

    #[scoped]
    async fn waits_forever() -> &'static str {
        let watcher = scope_spawn!("watcher", pending::<()>());
        let reports = REPORTS.lock().unwrap().clone().unwrap();
        let _report = scope_spawn_guarded!(async move {
            let _ = reports.send(watcher.await);
        });
        let name = Scope::current().unwrap().name().to_owned();
        STARTED.lock().unwrap().take().unwrap().send(name).unwrap();
        pending::<&'static str>().await
    }

    #[tokio::test]
    async fn scoped_without_a_layer_cancels_the_handlers_tasks_when_its_future_is_dropped() {
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        let (started_tx, started) = oneshot::channel();
        *REPORTS.lock().unwrap() = Some(reports_tx);
        *STARTED.lock().unwrap() = Some(started_tx);

        let app = Router::new().route("/", get(waits_forever));
        let request = tokio::spawn(app.oneshot(http::Request::new(Body::empty())));
        assert_eq!(started.await.unwrap(), "waits_forever");
        request.abort(); // like hyper when the client disconnects
        assert_eq!(
            reports.recv().await.unwrap(),
            Err(TaskError::Cancelled(CancelReason::Dropped))
        );
    }

    #[scoped(name = "quick", limit = 2)]
    async fn returns_at_once(scope: Scope) -> String {
        let leftover = scope_spawn!(pending::<()>());
        let reports = QUICK_REPORTS.lock().unwrap().clone().unwrap();
        let _report = scope_spawn_guarded!(async move {
            let _ = reports.send(leftover.await);
        });
        scope.name().to_owned()
    }

    #[tokio::test]
    async fn scoped_with_options_ends_its_scope_when_the_handler_returns() {
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        *QUICK_REPORTS.lock().unwrap() = Some(reports_tx);
        let app = Router::new().route("/", get(returns_at_once));
        let response = app
            .oneshot(http::Request::new(Body::empty()))
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"quick");
        assert_eq!(
            reports.recv().await.unwrap(),
            Err(TaskError::Cancelled(CancelReason::Completed))
        );
    }
}
