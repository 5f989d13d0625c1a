use axum::http::HeaderMap;
use axum::{Router, routing::get};
use scope_spawn::scoped;

#[scoped]
async fn handler(
    _h1: HeaderMap,
    _h2: HeaderMap,
    _h3: HeaderMap,
    _h4: HeaderMap,
    _h5: HeaderMap,
    _h6: HeaderMap,
    _h7: HeaderMap,
    _h8: HeaderMap,
    _h9: HeaderMap,
    _h10: HeaderMap,
    _h11: HeaderMap,
    _h12: HeaderMap,
    _h13: HeaderMap,
    _h14: HeaderMap,
    _h15: HeaderMap,
    _h16: HeaderMap,
) -> &'static str {
    "ok"
}

fn main() {
    let _app: Router = Router::new().route("/", get(handler));
}
