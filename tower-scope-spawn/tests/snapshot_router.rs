//! The `snapshot` debug router's formats, in process.

use std::future::pending;

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use scope_spawn::Scope;
use tower::ServiceExt;
use tower_scope_spawn::snapshot;

async fn fetch(root: &Scope, uri: &str) -> (StatusCode, String, String) {
    let router: axum::Router =
        axum::Router::new().nest("/debug/scopes", snapshot::router(root.clone()));
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn server_with_a_request() -> (scope_spawn::ScopeGuard, scope_spawn::ScopeGuard) {
    let server = Scope::builder().name("server").build();
    let request = Scope::builder().name("GET /report").parent(&server).build();
    let _fetch = request.spawn_named("fetch", pending::<()>());
    (server, request)
}

#[tokio::test]
async fn the_default_format_is_the_ascii_tree() {
    let (server, _request) = server_with_a_request();
    for uri in ["/debug/scopes", "/debug/scopes?format=text"] {
        let (status, content_type, body) = fetch(&server, uri).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert!(body.starts_with("scope server #"), "{body}");
        assert!(body.contains("└── scope GET /report #"), "{body}");
        assert!(body.contains("task fetch #"), "{body}");
    }
}

#[tokio::test]
async fn format_mermaid_renders_a_mermaid_graph() {
    let (server, _request) = server_with_a_request();
    let (status, content_type, body) = fetch(&server, "/debug/scopes?format=mermaid").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert!(body.starts_with("graph TD\n"), "{body}");
    assert!(body.contains("scope GET /report"), "{body}");
}

#[tokio::test]
async fn format_json_serializes_the_snapshot() {
    let (server, _request) = server_with_a_request();
    let (status, content_type, body) = fetch(&server, "/debug/scopes?format=json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["name"], "server");
    assert_eq!(json["live_tasks"], 1);
    assert_eq!(json["children"][0]["name"], "GET /report");
    assert_eq!(json["children"][0]["tasks"][0]["name"], "fetch");
}

#[tokio::test]
async fn an_unknown_format_is_a_bad_request() {
    let (server, _request) = server_with_a_request();
    let (status, _, body) = fetch(&server, "/debug/scopes?verbose=1&format=yaml").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "unknown format `yaml`: expected `text`, `mermaid` or `json`\n"
    );
}
