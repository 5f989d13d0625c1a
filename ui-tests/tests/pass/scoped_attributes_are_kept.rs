//! Docs, visibility and other attributes are kept on the handler.

use axum::{Router, routing::get};
use scope_spawn::scoped;

/// Handlers of this module.
pub mod handlers {
    use scope_spawn::scoped;

    /// A documented public handler.
    #[scoped]
    #[must_use = "futures do nothing unless awaited"]
    pub async fn public() -> &'static str {
        "ok"
    }

    /// Visible in the crate only.
    #[scoped(name = "restricted")]
    pub(crate) async fn restricted(#[allow(unused_variables)] body: String) -> &'static str {
        "ok"
    }
}

#[scoped]
#[allow(unused_variables)]
async fn private(body: String) -> &'static str {
    let unused = 1;
    "ok"
}

fn main() {
    let _app: Router = Router::new()
        .route("/public", get(handlers::public))
        .route("/restricted", get(handlers::restricted))
        .route("/private", get(private));
}
