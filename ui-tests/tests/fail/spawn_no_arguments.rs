use scope_spawn::scope_spawn;

async fn work() {
    scope_spawn!();
}

fn main() {
    let _ = work();
}
