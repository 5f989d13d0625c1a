//! Structured concurrency for tokio: every task belongs to a **scope**, the scope
//! ends when its owner (a request, a handler, a server) ends, and nothing leaks,
//! hangs or is lost.
//!
//! A [`Scope`] owns a group of tokio tasks: it cancels them together (with a
//! [`CancelReason`]), knows their names, catches and reports their panics, limits
//! how many run at once, carries typed context and the tracing span into them,
//! runs finalizers when it ends, and can be joined or shut down with a deadline
//! that really stops stragglers. Ownership and use are split, as in tokio-util's
//! `CancellationToken` / `DropGuard`: a [`ScopeGuard`] owns the scope's lifetime
//! (dropping it cancels), while `Scope` handles are cheap clones that never
//! cancel anything.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use scope_spawn::{CancelReason, Scope, TaskError};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let server = Scope::builder().name("server").build();
//!
//! // A request scope: a child of the server, with a deadline.
//! let request = Scope::builder()
//!     .name("GET /report")
//!     .parent(&server)
//!     .timeout(Duration::from_secs(2))
//!     .build();
//! request.insert("req-42"); // context, visible to every task below
//!
//! let fetch = request.spawn_named("fetch", async {
//!     let scope = Scope::current().expect("tasks run in their scope");
//!     format!("fetched for {}", scope.get::<&str>().unwrap())
//! });
//! let watcher = request.spawn_named("watcher", std::future::pending::<()>());
//! // An audit write that must finish even if the client goes away:
//! let audit = request.spawn_guarded(async { "audited" });
//!
//! assert_eq!(fetch.await.unwrap(), "fetched for req-42");
//! assert_eq!(server.live_tasks(), 1); // the watcher
//!
//! drop(request); // the client went away
//! assert_eq!(watcher.await, Err(TaskError::Cancelled(CancelReason::Dropped)));
//! assert_eq!(audit.await.unwrap(), "audited");
//!
//! let report = server.shutdown(Duration::from_secs(5)).await;
//! assert_eq!(report.total(), 0);
//! # }
//! ```
//!
//! # The parts
//!
//! - Spawning: [`Scope::spawn`], [`Scope::spawn_named`], [`Scope::try_spawn`],
//!   [`Scope::spawn_with_hooks`], [`Scope::spawn_blocking`],
//!   [`Scope::spawn_guarded`] and the [`Scope::task`] builder, each returning a
//!   [`TaskHandle`].
//! - Ending: dropping the [`ScopeGuard`], [`ScopeGuard::end_with`] (a reason
//!   of your own), [`ScopeGuard::join`] (under a [`Policy`]),
//!   [`ScopeGuard::shutdown`] (returning a [`ShutdownReport`]),
//!   [`ScopeGuard::run`], and the nursery block [`scope()`].
//! - Finding your scope: [`Scope::current`], [`Scope::global`], the
//!   `scope_spawn!` family and `#[scoped]` (feature `macros`, on by default), and
//!   the axum extractor (feature `axum`).
//! - Seeing what runs: [`Scope::live_tasks`], [`Scope::snapshot`].
//!
//! # Guarantees
//!
//! These invariants hold for every scope, and the tests check them:
//!
//! 1. **A task never outlives its scope's `join` or `shutdown`.** `join` returns
//!    only after every task of the scope and of its child scopes has settled
//!    (an idle child scope, which never had a task or a finalizer, nor a
//!    scope below it that had one, does not hold it up);
//!    `shutdown` returns only after every async task of the subtree has settled
//!    and left the books (stopped at the deadline if need be). Blocking
//!    closures, which cannot be interrupted, are the one exception, and the
//!    report counts them as `still_running`. A scope's tasks are stopped by
//!    aborting them, so a cancellation reaches a task even while it is being
//!    spawned (see the loom models and `tests/races.rs`).
//! 2. **A cancelled scope's tasks all observe cancellation**: each ends with
//!    [`TaskError::Cancelled`] at its next `.await` (or completes first), and
//!    queued tasks settle as cancelled without running. Spawning into a
//!    cancelled scope yields `Cancelled` at once (a guarded task is refused
//!    only once the scope is shutting down or has ended).
//! 3. **Guarded tasks are never cancelled before the shutdown deadline.**
//! 4. **`live_tasks()` returns to 0** when a scope's tasks have settled, and
//!    is 0 by the time `shutdown` returns.
//! 5. **The first cancel reason wins.**
//! 6. **Finalizers run exactly once, last registered first**, after the
//!    scope's tasks have settled.
//! 7. **No panic is lost**: it reaches the task's handle and the scope's
//!    outcome, whatever the policy.
#![doc(html_root_url = "https://docs.rs/scope-spawn/0.2.0")]
#![warn(
    missing_docs,
    unreachable_pub,
    rust_2018_idioms,
    missing_debug_implementations
)]
#![forbid(unsafe_code)]

mod books;
mod builder;
mod current;
mod error;
mod gate;
mod handler;
mod id;
mod limit;
mod name;
mod nursery;
mod policy;
mod reason;
mod run;
mod scope;
mod shutdown;
mod snapshot;
mod sync;
mod task;

#[cfg(feature = "axum")]
mod axum;

pub use builder::ScopeBuilder;
pub use current::InScope;
pub use error::{FailureKind, ScopeError, TaskError, TaskFailure};
pub use nursery::scope;
pub use policy::Policy;
pub use reason::CancelReason;
pub use run::ScopeRun;
pub use scope::{Outcome, Scope, ScopeGuard, ScopeId};
pub use shutdown::ShutdownReport;
pub use snapshot::{ScopeSnapshot, ScopeState, TaskSnapshot, TaskState};
pub use task::{TaskBuilder, TaskHandle, TaskId};

/// The cancellation token type [`Scope::token`] returns (from tokio-util).
pub use tokio_util::sync::CancellationToken;

#[cfg(feature = "macros")]
#[doc(inline)]
pub use scope_spawn_macros::{
    scope_drain, scope_spawn, scope_spawn_blocking, scope_spawn_blocking_nocontext,
    scope_spawn_guarded, scoped,
};

#[doc(hidden)]
pub mod __private;
