use scope_spawn::scoped;

// Every mistake is reported at once, not one per compile.
#[scoped(timeout = "2 seconds", limit = 0, retries = 3)]
fn handler() -> &'static str {
    "ok"
}

fn main() {
    let _ = handler;
}
