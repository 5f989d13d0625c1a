use scope_spawn::scope_drain;
use tokio::task::JoinSet;

async fn work() {
    let mut set = JoinSet::<()>::new();
    scope_drain!(set, limit = 3);
}

fn main() {
    let _ = work();
}
