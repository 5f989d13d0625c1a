use scope_spawn::scoped;

struct Api;

impl Api {
    #[scoped]
    async fn handler(&self) -> &'static str {
        "ok"
    }
}

fn main() {
    let _ = Api.handler();
}
