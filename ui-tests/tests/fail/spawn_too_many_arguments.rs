use scope_spawn::{Scope, scope_spawn};

async fn work(scope: Scope) {
    let priority = 1;
    scope_spawn!(&scope, "job", priority, async {});
}

fn main() {
    let _ = work;
}
