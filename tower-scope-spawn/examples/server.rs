//! The demo's routes as a long-running server, with the scope tree at
//! `/debug/scopes`. Try it with curl; Ctrl-C shuts it down gracefully.
//!
//! ```text
//! cargo run -p tower-scope-spawn --example server            # 127.0.0.1:3000
//! cargo run -p tower-scope-spawn --example server -- 127.0.0.1:8080
//! ```

mod app;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use scope_spawn::Scope;
use tower_scope_spawn::snapshot;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());

    app::quiet_expected_panics();
    let root = Scope::builder().name("server").build();
    let app = app::router(&root, Arc::new(|line| println!("{line}")))
        .nest("/debug/scopes", snapshot::router(root.clone()));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}  (Ctrl-C to shut down gracefully)");
    println!();
    let tries = [
        (
            format!("curl {addr}/report"),
            "answers; the slower lookup is cancelled",
        ),
        (
            format!("curl -m 1 {addr}/slow"),
            "the client gives up after 1s: Dropped",
        ),
        (
            format!("curl -N {addr}/ticks"),
            "streams; Ctrl-C the curl to hang up",
        ),
        (
            format!("curl {addr}/flaky"),
            "a task panics; the server goes on",
        ),
        (
            format!("curl {addr}/export"),
            "leaves a guarded 10-minute upload",
        ),
        (
            format!("curl {addr}/debug/scopes"),
            "what runs now (?format=mermaid or json)",
        ),
    ];
    for (curl, what) in tries {
        println!("  {curl:<42} # {what}");
    }
    println!();

    // Shutting the root scope down also stops axum from accepting.
    let serve = axum::serve(listener, app).with_graceful_shutdown(root.cancelled());
    let server = tokio::spawn(serve.into_future());

    tokio::signal::ctrl_c().await?;
    println!("\nshutting down: cancelling every request scope; guarded tasks get 5s");
    let report = root.shutdown(Duration::from_secs(5)).await;
    println!("shutdown report: {report}");
    server.await??;
    Ok(())
}
