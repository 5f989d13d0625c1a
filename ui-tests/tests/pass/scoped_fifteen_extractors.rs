use axum::http::{HeaderMap, Method, Uri};
use axum::{Router, routing::get};
use scope_spawn::scoped;

/// 15 extractors plus the injected one: axum's limit of 16.
#[scoped]
#[allow(clippy::too_many_arguments)]
async fn handler(
    _h1: HeaderMap,
    _h2: HeaderMap,
    _h3: HeaderMap,
    _h4: HeaderMap,
    _h5: HeaderMap,
    _m1: Method,
    _m2: Method,
    _m3: Method,
    _m4: Method,
    _m5: Method,
    _u1: Uri,
    _u2: Uri,
    _u3: Uri,
    _u4: Uri,
    body: String,
) -> String {
    body
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
