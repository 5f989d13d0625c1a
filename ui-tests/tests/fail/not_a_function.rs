use scope_spawn::scoped;

#[scoped]
struct Handler;

fn main() {
    let _ = Handler;
}
