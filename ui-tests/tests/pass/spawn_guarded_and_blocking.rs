//! `scope_spawn_guarded!`, `scope_spawn_blocking!` and
//! `scope_spawn_blocking_nocontext!` in each of their forms.

use scope_spawn::{
    Scope, scope_spawn, scope_spawn_blocking, scope_spawn_blocking_nocontext, scope_spawn_guarded,
};

async fn in_scope() -> u32 {
    let a = scope_spawn_guarded!(async { 1 });
    let b = scope_spawn_blocking!(|| 2);
    let c = scope_spawn_blocking_nocontext!("nocontext", || 3);
    a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let guard = Scope::new();
    let scope = Scope::clone(&guard);
    let n = 4;

    let a = scope_spawn_guarded!(&scope, async { 1 });
    let b = scope_spawn_guarded!(&guard, "guarded", async { 2 });
    let c = scope_spawn_blocking!(&scope, move || n);
    let d = scope_spawn_blocking!(&guard, name = format!("blocking-{n}"), move || n + 1);
    let e = scope_spawn_blocking_nocontext!(&scope, || 6);
    let f = scope_spawn_blocking_nocontext!(&guard, name = "nocontext", || 7);
    let g = scope_spawn!(&guard, in_scope());

    let sum = a.await.unwrap()
        + b.await.unwrap()
        + c.await.unwrap()
        + d.await.unwrap()
        + e.await.unwrap()
        + f.await.unwrap()
        + g.await.unwrap();
    assert_eq!(sum, 1 + 2 + 4 + 5 + 6 + 7 + 6);
    guard.join().await.unwrap();
}
