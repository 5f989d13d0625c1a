use std::fmt::Display;

use axum::extract::State;
use axum::{Router, routing::get};
use scope_spawn::scoped;

/// Generics and where-clauses are kept, and passed on to the body.
#[scoped]
async fn generic<S>(State(state): State<S>) -> String
where
    S: Clone + Display + Send + Sync + 'static,
{
    format!("{state}")
}

/// Const generics too.
#[scoped(limit = N)]
async fn with_const<const N: usize>() -> String {
    format!("{N}")
}

fn main() {
    let _app: Router = Router::new()
        .route("/", get(generic::<String>))
        .route("/const", get(with_const::<4>))
        .with_state(String::from("state"));
}
