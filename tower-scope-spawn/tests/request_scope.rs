//! The request scope, in process (`tower::ServiceExt::oneshot`): where it is,
//! what it is called, whose child it is, and when and why it ends.

use std::convert::Infallible;
use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use scope_spawn::{CancelReason, Scope, TaskError, TaskHandle, TaskState};
use tokio::sync::{mpsc, oneshot};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_scope_spawn::{ScopeSpawnLayer, ScopeSpawnService};

fn request(uri: &str) -> Request<String> {
    Request::get(uri).body(String::new()).unwrap()
}

fn ok(body: impl Into<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(body.into()))
}

/// A service that reports its request scope (from `Scope::current`) and
/// responds at once.
async fn scope_of(layer: ScopeSpawnLayer, uri: &str) -> Scope {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |_req: Request<String>| {
                tx.send(Scope::current().expect("a current scope")).unwrap();
                async { ok("") }
            }));
    service.oneshot(request(uri)).await.unwrap();
    rx.recv().await.unwrap()
}

#[tokio::test]
async fn the_request_scope_is_in_the_extensions_and_current_in_the_call_and_the_future() {
    let service = ScopeSpawnService::new(service_fn(|req: Request<String>| {
        let in_call = Scope::current();
        let extension = req.extensions().get::<Scope>().cloned();
        async move {
            let in_future = Scope::current();
            assert!(extension.is_some(), "the layer inserts a Scope extension");
            assert_eq!(in_call, extension, "current while the service is called");
            assert_eq!(in_future, extension, "current while its future is polled");
            ok("checked")
        }
    }));
    let response = service.oneshot(request("/")).await.unwrap();
    assert_eq!(response.into_body(), "checked");
}

#[tokio::test]
async fn the_default_name_is_the_method_and_the_path_without_the_query() {
    let scope = scope_of(ScopeSpawnLayer::new(), "/users/7?verbose=1").await;
    assert_eq!(scope.name(), "GET /users/7");
}

#[tokio::test]
async fn a_default_name_too_long_to_keep_inline_is_kept_whole() {
    // Short names are written into the scope itself; longer ones are
    // allocated, and every length in between is one or the other.
    for len in [1, 30, 33, 34, 35, 36, 40, 200] {
        let path = format!("/{}", "p".repeat(len - 1));
        let scope = scope_of(ScopeSpawnLayer::new(), &path).await;
        assert_eq!(scope.name(), format!("GET {path}"), "a path of {len} bytes");
    }
}

#[tokio::test]
async fn name_gives_every_request_scope_the_same_name() {
    let scope = scope_of(ScopeSpawnLayer::new().name("api"), "/users/7").await;
    assert_eq!(scope.name(), "api");
}

#[tokio::test]
async fn name_with_names_the_scope_from_the_request_head() {
    let layer = ScopeSpawnLayer::new()
        .name_with(|parts| format!("{} {}", parts.uri.path(), parts.headers.len()));
    let scope = scope_of(layer, "/users/7").await;
    assert_eq!(scope.name(), "/users/7 0");

    let fixed = ScopeSpawnLayer::new().name_with(|_| "static");
    assert_eq!(scope_of(fixed, "/").await.name(), "static");
}

#[tokio::test]
async fn request_scopes_are_children_of_the_layers_parent() {
    let server = Scope::builder().name("server").build();
    let scope = scope_of(ScopeSpawnLayer::new().parent(&server), "/").await;
    assert_eq!(scope.parent(), Some(&*server));
}

#[tokio::test]
async fn without_a_parent_request_scopes_are_children_of_the_current_scope() {
    let outer = Scope::builder().name("connection").build();
    let scope = outer.in_scope(scope_of(ScopeSpawnLayer::new(), "/")).await;
    assert_eq!(scope.parent(), Some(&*outer));
}

#[tokio::test]
async fn outside_any_scope_request_scopes_are_children_of_the_global_scope() {
    let scope = scope_of(ScopeSpawnLayer::new(), "/").await;
    assert_eq!(scope.parent(), Some(&Scope::global()));
}

#[tokio::test]
async fn the_parent_counts_the_live_tasks_of_in_flight_requests() {
    let server = Scope::builder().name("server").build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ServiceBuilder::new()
        .layer(ScopeSpawnLayer::new().parent(&server))
        .service(service_fn(move |_req: Request<String>| {
            let (respond, respond_rx) = oneshot::channel::<()>();
            let watcher = Scope::current().unwrap().spawn(pending::<()>());
            tx.send((watcher, respond)).unwrap();
            async move {
                respond_rx.await.unwrap();
                ok("")
            }
        }));
    let call = tokio::spawn(service.oneshot(request("/")));
    let (watcher, respond) = rx.recv().await.unwrap();
    assert_eq!(server.live_tasks(), 1);
    assert!(server.snapshot().to_string().contains("scope GET /"));

    respond.send(()).unwrap();
    call.await.unwrap().unwrap();
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    assert_eq!(server.live_tasks(), 0);
}

#[tokio::test]
async fn tasks_live_until_the_response_is_ready_then_end_with_completed() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ScopeSpawnService::new(service_fn(move |_req: Request<String>| {
        let tx = tx.clone();
        async move {
            let scope = Scope::current().unwrap();
            let watcher = scope.spawn(pending::<()>());
            let (respond, respond_rx) = oneshot::channel::<()>();
            tx.send((scope, watcher, respond)).unwrap();
            respond_rx.await.unwrap();
            ok("done")
        }
    }));
    let call = tokio::spawn(service.oneshot(request("/")));
    let (scope, watcher, respond): (Scope, TaskHandle<()>, _) = rx.recv().await.unwrap();

    // The inner future is waiting: the request, and so its tasks, go on.
    tokio::task::yield_now().await;
    assert_eq!(scope.cancel_reason(), None);
    assert!(!watcher.is_finished());

    respond.send(()).unwrap();
    let response = call.await.unwrap().unwrap();
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Completed));
    assert_eq!(response.into_body(), "done");
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
}

#[tokio::test]
async fn dropping_the_response_future_ends_the_scope_with_dropped() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ScopeSpawnService::new(service_fn(move |_req: Request<String>| {
        let tx = tx.clone();
        async move {
            let watcher = Scope::current().unwrap().spawn(pending::<()>());
            tx.send(watcher).unwrap();
            pending::<Result<Response<String>, Infallible>>().await
        }
    }));
    let call = tokio::spawn(service.oneshot(request("/")));
    let watcher = rx.recv().await.unwrap();
    call.abort(); // what hyper does when the client goes away
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
}

#[tokio::test]
async fn an_error_from_the_inner_service_ends_the_scope_with_completed() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ScopeSpawnService::new(service_fn(move |_req: Request<String>| {
        let watcher = Scope::current().unwrap().spawn(pending::<()>());
        tx.send(watcher).unwrap();
        async { Err::<Response<String>, _>("no such user") }
    }));
    assert_eq!(
        service.oneshot(request("/")).await.unwrap_err(),
        "no such user"
    );
    let watcher = rx.recv().await.unwrap();
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
}

#[tokio::test(start_paused = true)]
async fn the_timeout_cancels_the_request_tasks_with_deadline_exceeded() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let layer = ScopeSpawnLayer::new().timeout(Duration::from_secs(1));
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |_req: Request<String>| {
                let tx = tx.clone();
                async move {
                    let scope = Scope::current().unwrap();
                    assert!(scope.deadline().is_some());
                    tx.send(scope.spawn(pending::<()>())).unwrap();
                    // The timeout bounds the tasks, not the response.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let reason = scope.cancel_reason();
                    Ok::<_, Infallible>(Response::new(format!("{reason:?}")))
                }
            }));
    let response = service.oneshot(request("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body(), "Some(DeadlineExceeded)");
    let watcher = rx.recv().await.unwrap();
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::DeadlineExceeded))
    );
}

#[tokio::test]
async fn max_tasks_queues_the_extra_tasks_in_spawn_order() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let layer = ScopeSpawnLayer::new().max_tasks(1);
    let ran_in_service = Arc::clone(&ran);
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |_req: Request<String>| {
                let (ran, tx) = (Arc::clone(&ran_in_service), tx.clone());
                async move {
                    let scope = Scope::current().unwrap();
                    let (started, started_rx) = oneshot::channel::<()>();
                    let mut started = Some(started);
                    let handles: Vec<TaskHandle<()>> = (0..3)
                        .map(|i| {
                            let ran = Arc::clone(&ran);
                            let started = started.take();
                            scope.spawn(async move {
                                ran.lock().unwrap().push(i);
                                if let Some(started) = started {
                                    let _ = started.send(());
                                }
                                pending::<()>().await
                            })
                        })
                        .collect();
                    let states: Vec<TaskState> =
                        scope.snapshot().tasks.iter().map(|t| t.state).collect();
                    assert_eq!(
                        states,
                        [TaskState::Running, TaskState::Queued, TaskState::Queued]
                    );
                    started_rx.await.unwrap();
                    tx.send(handles).unwrap();
                    ok("")
                }
            }));
    service.oneshot(request("/")).await.unwrap();
    for handle in rx.recv().await.unwrap() {
        assert_eq!(
            handle.await,
            Err(TaskError::Cancelled(CancelReason::Completed))
        );
    }
    // The queued tasks settled as cancelled without running.
    assert_eq!(*ran.lock().unwrap(), [0]);
}

#[test]
#[should_panic(expected = "tower-scope-spawn: max_tasks must be at least 1")]
fn max_tasks_of_zero_panics() {
    let _ = ScopeSpawnLayer::new().max_tasks(0);
}

#[test]
#[should_panic(expected = "tower-scope-spawn: the request scope timeout must be greater than zero")]
fn a_zero_timeout_panics() {
    let _ = ScopeSpawnLayer::new().timeout(Duration::ZERO);
}

#[tokio::test]
async fn a_request_after_the_parent_was_cancelled_gets_a_cancelled_scope() {
    let server = Scope::builder().name("server").build();
    server.cancel();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let layer = ScopeSpawnLayer::new().parent(&server);
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |_req: Request<String>| {
                tx.send(Scope::current().unwrap().spawn(async { "never runs" }))
                    .unwrap();
                async { ok("still answered") }
            }));
    let response = service.oneshot(request("/")).await.unwrap();
    assert_eq!(response.into_body(), "still answered");
    assert_eq!(
        rx.recv().await.unwrap().await,
        Err(TaskError::Cancelled(CancelReason::ParentCancelled))
    );
}

#[test]
fn the_layer_and_service_debug_output_shows_the_configuration() {
    let layer = ScopeSpawnLayer::new()
        .name("api")
        .max_tasks(4)
        .until_body_end();
    let debug = format!("{layer:?}");
    assert!(debug.contains("\"api\""), "{debug}");
    assert!(debug.contains("max_tasks: Some(4)"), "{debug}");
    assert!(debug.contains("until_body_end: true"), "{debug}");

    let named_with = format!("{:?}", ScopeSpawnLayer::new().name_with(|_| "x"));
    assert!(named_with.contains("<fn(&Parts)>"), "{named_with}");

    let service = ScopeSpawnService::new("inner service");
    assert!(format!("{service:?}").contains("\"inner service\""));
    assert_eq!(*service.get_ref(), "inner service");
    assert_eq!(service.into_inner(), "inner service");
}

#[test]
fn configuring_a_clone_leaves_the_original_as_it_was() {
    let base = ScopeSpawnLayer::new().name("base");
    let derived = base.clone().max_tasks(2);
    assert!(format!("{base:?}").contains("max_tasks: None"));
    assert!(format!("{derived:?}").contains("max_tasks: Some(2)"));
}

/// Notes, when dropped, the current scope and whether it was cancelled yet.
struct NoteOnDrop(std::sync::mpsc::Sender<(Option<scope_spawn::ScopeId>, bool)>);

impl Drop for NoteOnDrop {
    fn drop(&mut self) {
        let current = Scope::current();
        let cancelled = current.as_ref().is_some_and(Scope::is_cancelled);
        let _ = self.0.send((current.map(|scope| scope.id()), cancelled));
    }
}

#[tokio::test]
async fn the_inner_future_is_dropped_in_the_request_scope_before_it_ends() {
    for abort in [false, true] {
        let (scopes, mut scope_rx) = mpsc::unbounded_channel();
        let (notes, note_rx) = std::sync::mpsc::channel();
        let service = ScopeSpawnService::new(service_fn(move |_req: Request<String>| {
            scopes.send(Scope::current().unwrap()).unwrap();
            let note = NoteOnDrop(notes.clone());
            async move {
                let _note = note;
                if abort {
                    pending::<()>().await;
                }
                ok("")
            }
        }));
        let call = tokio::spawn(service.oneshot(request("/")));
        let scope = scope_rx.recv().await.unwrap();
        if abort {
            call.abort(); // the client went away
            let _ = call.await;
        } else {
            call.await.unwrap().unwrap();
        }
        assert_eq!(
            note_rx.try_recv(),
            Ok((Some(scope.id()), false)),
            "abort: {abort}: dropped in the request scope, before it was cancelled"
        );
        let reason = if abort {
            CancelReason::Dropped
        } else {
            CancelReason::Completed
        };
        assert_eq!(scope.cancel_reason(), Some(reason));
        assert!(Scope::current().is_none(), "the scope was left");
    }
}

/// A runtime for the tests that poll (or call) the service by hand, so that
/// they can catch its panic: tasks spawned meanwhile need one to enter.
fn polled_by_hand() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn an_inner_future_that_panics_hands_the_scope_back_and_the_scope_ends_dropped() {
    let runtime = polled_by_hand();
    let _entered = runtime.enter();
    let (scopes, scope_rx) = std::sync::mpsc::channel();
    let service = ScopeSpawnService::new(service_fn(move |_req: Request<String>| {
        let scope = Scope::current().unwrap();
        let watcher = scope.spawn(pending::<()>());
        scopes.send((scope, watcher)).unwrap();
        async {
            panic!("in the handler");
            #[allow(unreachable_code)]
            ok("")
        }
    }));
    let mut call = Box::pin(service.oneshot(request("/")));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = call.as_mut().poll(&mut cx);
    }));
    assert!(poll.is_err(), "the inner future panicked");
    assert!(Scope::current().is_none(), "the scope was left");
    let (scope, watcher) = scope_rx.try_recv().unwrap();
    assert!(!scope.is_cancelled());
    drop(call);
    assert_eq!(scope.cancel_reason(), Some(CancelReason::Dropped));
    assert_eq!(
        runtime.block_on(watcher),
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
}

#[test]
fn an_inner_service_whose_call_panics_leaves_the_scope_and_ends_it_dropped() {
    use tower::Service;

    let runtime = polled_by_hand();
    let _entered = runtime.enter();
    let (scopes, scope_rx) = std::sync::mpsc::channel();
    let mut service = ScopeSpawnService::new(service_fn(
        move |_req: Request<String>| -> std::future::Ready<Result<Response<String>, Infallible>> {
            let scope = Scope::current().expect("current while the service is called");
            let watcher = scope.spawn(pending::<()>());
            scopes.send((scope, watcher)).unwrap();
            panic!("in the call");
        },
    ));
    let call =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| service.call(request("/"))));
    assert!(call.is_err(), "the inner service's call panicked");
    assert!(Scope::current().is_none(), "the scope was left");
    let (scope, watcher) = scope_rx.try_recv().unwrap();
    assert_eq!(
        scope.cancel_reason(),
        Some(CancelReason::Dropped),
        "the request's guard went with the panic, and took its handle back first"
    );
    assert_eq!(
        runtime.block_on(watcher),
        Err(TaskError::Cancelled(CancelReason::Dropped))
    );
}
