//! Procedural macros for [`scope-spawn`]: the `#[scoped]` attribute for axum
//! handlers and the `scope_spawn!` family of spawn macros.
//!
//! Do not depend on this crate directly: use the macros through the
//! `scope_spawn` crate, which re-exports them (behind its default `macros`
//! feature) and provides the runtime the generated code calls into. The
//! generated code names the runtime by absolute paths into
//! `::scope_spawn::__private`, which is not a public API.
//!
//! [`scope-spawn`]: https://docs.rs/scope-spawn

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

use proc_macro::TokenStream;

mod duration;
mod expand;
mod parse;

use expand::SpawnKind;

/// Runs an axum handler inside a [`Scope`] of its own, so the tasks it spawns
/// end with the request: when the handler returns, when the client goes away
/// (axum drops the handler's future) or when its timeout fires.
///
/// `#[scoped]` goes on an `async fn` handler. It adds a hidden extractor as the
/// handler's first argument (so the handler can take at most 15 others) and
/// runs the body with the handler's scope as [`Scope::current()`], so
/// [`scope_spawn!`] without a target spawns into it.
///
/// The handler's scope is the request's scope if `tower-scope-spawn`'s layer
/// made one and no option is given. Otherwise it is a new scope owned by this
/// call (a child of the request's scope, else of [`Scope::current()`] or
/// [`Scope::global()`]), which is cancelled when the handler returns or is
/// dropped.
///
/// ```rust
/// use axum::{Router, routing::get};
/// use scope_spawn::{scope_spawn, scoped};
///
/// #[scoped]
/// async fn handler() -> String {
///     // Spawned into the handler's scope: cancelled if the request goes away.
///     let greeting = scope_spawn!("greet", async { "hello" });
///     greeting.await.unwrap_or("cancelled").to_owned()
/// }
///
/// let app: Router = Router::new().route("/", get(handler));
/// ```
///
/// # Using the scope
///
/// Declare a parameter of type `Scope` (any path ending in `Scope`) to get the
/// handler's scope as a value. It takes the place of the hidden extractor, so
/// it can go anywhere a parts extractor can, and the handler keeps all 16
/// arguments axum allows.
///
/// ```rust
/// use axum::extract::Path;
/// use axum::{Router, routing::get};
/// use scope_spawn::{Scope, scope_spawn, scoped};
///
/// #[scoped]
/// async fn get_user(scope: Scope, Path(id): Path<u32>) -> String {
///     let profile = scope_spawn!(&scope, "load_profile", async move { id * 2 });
///     format!("user {id}: {:?}", profile.await)
/// }
///
/// let app: Router = Router::new().route("/users/{id}", get(get_user));
/// ```
///
/// # Options
///
/// Options give the call a new child scope, configured by them:
///
/// ```rust
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use scope_spawn::scoped;
///
/// #[scoped(name = "get_user", timeout = "2s", limit = 8, policy = fail_fast)]
/// async fn get_user() -> &'static str {
///     "ok"
/// }
///
/// #[scoped(timeout = Duration::from_millis(1500))]
/// async fn slow() {}
///
/// let app: Router = Router::new()
///     .route("/user", get(get_user))
///     .route("/slow", get(slow));
/// ```
///
/// | option | value | default |
/// | --- | --- | --- |
/// | `name` | a string literal, or any expression of a type that is `Into<Cow<'static, str>>` | the function's name |
/// | `timeout` | a string `"<integer><unit>"` with unit `ns`, `us`, `ms`, `s`, `m` or `h` (`"250ms"`, `"2s"`, `"1m"`, `"1_500ms"`), checked at compile time; or any expression of type `Duration` | none |
/// | `limit` | how many of the scope's tasks run at once: an integer literal, checked at compile time, or any expression of type `usize` | none |
/// | `policy` | `supervise`, `fail_fast` or `collect_all`, or any other path or expression of type `Policy`, such as `Policy::FailFast` | `supervise` |
///
/// Option expressions are evaluated each time the handler is called, before
/// its body runs. They can use the function's generic parameters but not its
/// parameters (a parameter never shadows a name an option uses). A computed
/// zero `timeout` or `limit` panics when the handler is called; as literals
/// they are rejected at compile time.
///
/// # Compile errors
///
/// `#[scoped]` rejects, at compile time, a function that is not `async`, a
/// method (`self`), any item that is not a function, unknown or repeated
/// options, a timeout it cannot read or that is zero, `limit = 0`, an unknown
/// policy, two `Scope` parameters, and a handler that already has 16 arguments
/// (since the hidden extractor would make 17). It then still emits the
/// function as written, so one mistake does not also break the router.
///
/// # Expansion
///
/// The body moves, unchanged, into an inner function, so `?`, `impl Trait`
/// return types and patterns in parameters work as in any `async fn`:
///
/// ```text
/// async fn get_user(__scope_spawn_request: HandlerScope, __scope_spawn_arg0: Path<u32>, body: String) -> R {
///     async fn __scope_spawn_inner(Path(id): Path<u32>, body: String) -> R { /* the body */ }
///     let __scope_spawn_run = __scope_spawn_request.enter(HandlerOptions::new("get_user"));
///     __scope_spawn_run.run(__scope_spawn_inner(__scope_spawn_arg0, body)).await
/// }
/// ```
///
/// The scope's extractor reads the request's parts, except in the last
/// position — a handler with no other argument, or a declared `Scope` last —
/// where it takes the whole request (`HandlerScope<ViaRequest>`), which
/// spares axum taking the request apart a second time.
///
/// Attributes, doc comments, visibility, generics, the where-clause and the
/// return type stay as written; parameters that are plain names keep them.
///
/// # With other attributes
///
/// Put `#[scoped]` above `#[axum::debug_handler]`, so that it checks the final
/// signature (the other order works only if the handler declares its `Scope`).
/// `#[tracing::instrument]` works above or below.
///
/// [`Scope`]: https://docs.rs/scope-spawn/latest/scope_spawn/struct.Scope.html
/// [`Scope::current()`]: https://docs.rs/scope-spawn/latest/scope_spawn/struct.Scope.html#method.current
/// [`Scope::global()`]: https://docs.rs/scope-spawn/latest/scope_spawn/struct.Scope.html#method.global
/// [`scope_spawn!`]: macro@scope_spawn
#[proc_macro_attribute]
pub fn scoped(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    expand::scoped(args.into(), item.clone())
        .unwrap_or_else(|error| expand::item_with_error(item, error))
        .into()
}

/// Spawns a future as a task of a scope and returns its handle.
///
/// ```text
/// scope_spawn!(fut)                      // into Scope::current()
/// scope_spawn!("name", fut)              // named
/// scope_spawn!(name = expr, fut)         // with a computed name
/// scope_spawn!(target, fut)              // into `&scope`, `&guard` or `&mut join_set`
/// scope_spawn!(target, "name", fut)
/// scope_spawn!(target, name = expr, fut)
/// ```
///
/// Without a target the task goes into `Scope::current()` (the scope a
/// `#[scoped]` handler or a scope's task runs in), or `Scope::global()` outside
/// any scope. A target is a `Scope` or `&Scope`, a `&ScopeGuard`, or a
/// `&mut tokio::task::JoinSet<T>`: the task then joins the set and is still
/// governed by the current scope (see [`scope_drain!`]). The name is the
/// task's name in snapshots and in its tracing span; it is a string literal,
/// or `name = expr` with any expression that is `Into<Cow<'static, str>>`.
///
/// It evaluates to the task's handle: a `TaskHandle<T>` (a future of
/// `Result<T, TaskError>`) for a scope or a guard, the set's `AbortHandle` for
/// a `JoinSet`. The call is spanned at the future, so a future that is not
/// `Send + 'static` is reported there.
///
/// ```rust
/// use scope_spawn::{Scope, scope_spawn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let scope = Scope::new();
/// let a = scope_spawn!(&scope, async { 1 });
/// let b = scope_spawn!(&scope, "second", async { 2 });
/// let id = 7;
/// let c = scope_spawn!(&scope, name = format!("job-{id}"), async move { id });
/// // In a task, the form without a target spawns into the task's own scope.
/// let d = scope_spawn!(&scope, async {
///     scope_spawn!("nested", async { 4 }).await.unwrap()
/// });
/// let sum = a.await.unwrap() + b.await.unwrap() + c.await.unwrap() + d.await.unwrap();
/// assert_eq!(sum, 14);
/// # }
/// ```
///
/// [`scope_drain!`]: macro@scope_drain
#[proc_macro]
pub fn scope_spawn(input: TokenStream) -> TokenStream {
    expand::spawn(input.into(), SpawnKind::Spawn)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Like [`scope_spawn!`], but the task is *guarded*: cancelling its scope
/// does not cancel it. It is still tracked (the scope's `join` and `shutdown`
/// wait for it, and `shutdown` aborts it at its deadline). For work that must
/// finish even if the client goes away, such as an audit write.
///
/// Takes the same arguments as [`scope_spawn!`].
///
/// ```rust
/// use scope_spawn::{Scope, scope_spawn_guarded};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let request = Scope::new();
/// let audit = scope_spawn_guarded!(&request, "audit", async { "written" });
/// request.cancel(); // the client went away
/// assert_eq!(audit.await.unwrap(), "written");
/// # }
/// ```
///
/// [`scope_spawn!`]: macro@scope_spawn
#[proc_macro]
pub fn scope_spawn_guarded(input: TokenStream) -> TokenStream {
    expand::spawn(input.into(), SpawnKind::Guarded)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Runs a closure on tokio's blocking pool as a task of a scope, and returns
/// its handle.
///
/// The closure runs inside the task's tracing span and with its scope as
/// `Scope::current()`, so it can check `is_cancelled()` (it cannot be
/// interrupted). Takes the same arguments as [`scope_spawn!`], with a closure
/// in place of the future.
///
/// ```rust
/// use scope_spawn::{Scope, scope_spawn_blocking};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let scope = Scope::new();
/// let password = String::from("hunter2");
/// let hashed = scope_spawn_blocking!(&scope, "hash", move || {
///     let scope = Scope::current().expect("runs in its scope");
///     assert!(!scope.is_cancelled());
///     password.len()
/// });
/// assert_eq!(hashed.await.unwrap(), 7);
/// # }
/// ```
///
/// [`scope_spawn!`]: macro@scope_spawn
#[proc_macro]
pub fn scope_spawn_blocking(input: TokenStream) -> TokenStream {
    expand::spawn(input.into(), SpawnKind::Blocking)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Like [`scope_spawn_blocking!`], but the closure does not run with its
/// scope as `Scope::current()` (it still runs inside the task's tracing span
/// and is tracked by the scope): for code that must not find, and spawn into,
/// the scope it was started from.
///
/// Takes the same arguments as [`scope_spawn!`], with a closure in place of the
/// future.
///
/// ```rust
/// use scope_spawn::{Scope, scope_spawn_blocking_nocontext};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let scope = Scope::new();
/// let data = vec![1u8; 1024];
/// let task = scope_spawn_blocking_nocontext!(&scope, move || {
///     assert!(Scope::current().is_none());
///     data.len()
/// });
/// assert_eq!(task.await.unwrap(), 1024);
/// # }
/// ```
///
/// [`scope_spawn!`]: macro@scope_spawn
/// [`scope_spawn_blocking!`]: macro@scope_spawn_blocking
#[proc_macro]
pub fn scope_spawn_blocking_nocontext(input: TokenStream) -> TokenStream {
    expand::spawn(input.into(), SpawnKind::BlockingNoContext)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Joins the tasks of a `tokio::task::JoinSet` until at most `max` remain (all
/// of them without `max`), and evaluates to the first error. Must be used in an
/// `async` context: it expands to an `.await`.
///
/// ```text
/// scope_drain!(set)              // join every task
/// scope_drain!(set, max = n)     // join until at most n are left in flight
/// ```
///
/// `set` is a `JoinSet<Result<(), E>>` place (`set`, `self.tasks`) or a
/// `&mut JoinSet<Result<(), E>>`, where `E: From<TaskError>`; it evaluates to
/// `Result<(), E>`. A task that panicked becomes `TaskError::Panicked`, one
/// that was cancelled `TaskError::Cancelled`. Together with
/// `scope_spawn!(&mut set, …)` it bounds how many tasks run at once:
///
/// ```rust
/// use scope_spawn::{Scope, TaskError, scope_drain, scope_spawn};
/// use tokio::task::JoinSet;
///
/// async fn fan_out() -> Result<(), TaskError> {
///     let mut set = JoinSet::new();
///     for i in 0..10 {
///         scope_spawn!(&mut set, name = format!("job-{i}"), async move { Ok(()) });
///         scope_drain!(set, max = 4)?; // at most 4 in flight
///     }
///     scope_drain!(&mut set)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let scope = Scope::new();
/// let done = scope_spawn!(&scope, fan_out());
/// assert_eq!(done.await.unwrap(), Ok(()));
/// # }
/// ```
///
/// [`scope_spawn!`]: macro@scope_spawn
#[proc_macro]
pub fn scope_drain(input: TokenStream) -> TokenStream {
    expand::drain(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
