//! Every form of `scope_spawn!`: into the current scope, a `Scope`, a guard and
//! a `JoinSet`, unnamed, named and with a computed name.

use scope_spawn::{Scope, TaskError, scope_drain, scope_spawn};
use tokio::task::JoinSet;

async fn into_the_current_scope() -> u32 {
    let a = scope_spawn!(async { 1 });
    let b = scope_spawn!("named", async { 2 });
    let id = 3;
    let c = scope_spawn!(name = format!("job-{id}"), async move { id });
    a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
}

async fn into_a_scope(scope: Scope) -> u32 {
    let a = scope_spawn!(&scope, async { 1 });
    let b = scope_spawn!(&scope, "named", async { 2 });
    let name: &'static str = "static-name";
    let c = scope_spawn!(&scope, name = name, async { 3 },);
    a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
}

async fn into_a_join_set() -> Result<usize, TaskError> {
    let mut set: JoinSet<Result<(), TaskError>> = JoinSet::new();
    scope_spawn!(&mut set, async { Ok(()) });
    scope_spawn!(&mut set, "named", async { Ok(()) });
    let set_ref = &mut set;
    scope_spawn!(set_ref, name = String::from("computed"), async { Ok(()) });
    scope_drain!(set, max = 1)?;
    assert!(set.len() <= 1);
    scope_drain!(&mut set)?;
    Ok(set.len())
}

/// A `JoinSet` kept in a struct field.
struct Worker {
    tasks: JoinSet<Result<(), TaskError>>,
}

impl Worker {
    async fn run(&mut self) -> Result<(), TaskError> {
        for i in 0..4 {
            scope_spawn!(&mut self.tasks, name = format!("job-{i}"), async { Ok(()) });
            // At most two in flight.
            scope_drain!(self.tasks, max = 2)?;
        }
        scope_drain!(self.tasks)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let guard = Scope::new();
    let total = scope_spawn!(&guard, "outer", into_the_current_scope())
        .await
        .unwrap();
    assert_eq!(total, 6);
    assert_eq!(into_a_scope(Scope::clone(&guard)).await, 6);
    let left = scope_spawn!(&guard, into_a_join_set()).await.unwrap();
    assert_eq!(left, Ok(0));
    let mut worker = Worker {
        tasks: JoinSet::new(),
    };
    let worked = scope_spawn!(&guard, async move { worker.run().await });
    assert_eq!(worked.await.unwrap(), Ok(()));
    guard.join().await.unwrap();
}
