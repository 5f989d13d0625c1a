//! The layer around a plain tower service that knows nothing of axum or of the
//! request extensions: the request scope is still `Scope::current()`, so
//! `scope_spawn!` and `Scope::current()` spawn into it.

use std::convert::Infallible;
use std::future::pending;

use http::{Request, Response};
use scope_spawn::{CancelReason, Scope, TaskError, scope_spawn};
use tokio::sync::mpsc;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_scope_spawn::ScopeSpawnLayer;

/// Stands for any code below the layer that only has `Scope::current()`.
async fn business_logic() -> String {
    let answer = scope_spawn!("compute", async { 6 * 7 }).await.unwrap();
    let scope = Scope::current().unwrap();
    format!("{} in {}", answer, scope.name())
}

#[tokio::test]
async fn scope_spawn_in_a_service_fn_lands_in_the_request_scope() {
    let server = Scope::builder().name("server").build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = ServiceBuilder::new()
        .layer(ScopeSpawnLayer::new().parent(&server))
        // Another layer between: the scope does not depend on the extensions
        // reaching the service.
        .map_request(|req: Request<String>| {
            let (parts, body) = req.into_parts();
            let mut req = Request::new(body);
            *req.uri_mut() = parts.uri;
            req
        })
        .service(service_fn(move |req: Request<String>| {
            assert!(req.extensions().get::<Scope>().is_none());
            let tx = tx.clone();
            async move {
                let text = business_logic().await;
                let watcher = scope_spawn!("watcher", pending::<()>());
                let task_scope = scope_spawn!(async { Scope::current() }).await.unwrap();
                tx.send((watcher, task_scope)).unwrap();
                Ok::<_, Infallible>(Response::new(text))
            }
        }));

    let response = service
        .oneshot(Request::get("/answer").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.into_body(), "42 in GET /answer");

    let (watcher, task_scope) = rx.recv().await.unwrap();
    let task_scope = task_scope.expect("tasks run in their scope");
    assert_eq!(task_scope.name(), "GET /answer");
    assert_eq!(task_scope.parent(), Some(&*server));
    assert_eq!(
        watcher.await,
        Err(TaskError::Cancelled(CancelReason::Completed))
    );
    assert_eq!(server.live_tasks(), 0);
}

#[tokio::test]
async fn scope_current_in_a_service_fn_spawns_into_the_request_scope() {
    let server = Scope::builder().name("server").build();
    let service = ServiceBuilder::new()
        .layer(ScopeSpawnLayer::new().parent(&server).name("rpc"))
        .service(service_fn(|_req: Request<()>| async {
            let scope = Scope::current().expect("the request scope");
            let name = scope
                .spawn_named("lookup", async {
                    Scope::current().unwrap().name().to_owned()
                })
                .await
                .unwrap();
            Ok::<_, Infallible>(Response::new(name))
        }));
    let response = service.oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.into_body(), "rpc");
}
