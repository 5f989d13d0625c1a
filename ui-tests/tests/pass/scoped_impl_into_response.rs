use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Router, routing::get};
use scope_spawn::{scope_spawn, scoped};

fn parse(id: &str) -> Result<u32, StatusCode> {
    id.parse().map_err(|_| StatusCode::BAD_REQUEST)
}

/// `impl IntoResponse` and `?` work as in any handler.
#[scoped]
async fn handler(Path(id): Path<String>) -> Result<impl IntoResponse, StatusCode> {
    let id = parse(&id)?;
    let doubled = scope_spawn!(async move { id * 2 })
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok((StatusCode::OK, doubled.to_string()))
}

#[scoped]
async fn plain() -> impl IntoResponse {
    StatusCode::NO_CONTENT
}

fn main() {
    let _app: Router = Router::new()
        .route("/{id}", get(handler))
        .route("/", get(plain));
}
