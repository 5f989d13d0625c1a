use scope_spawn::scope_spawn;

async fn work() {
    scope_spawn!(42, async {});
}

fn main() {
    let _ = work();
}
