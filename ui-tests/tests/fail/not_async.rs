use scope_spawn::scoped;

#[scoped]
fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _ = handler;
}
