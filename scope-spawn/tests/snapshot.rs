//! Snapshots: the tree of scopes and live tasks, as ASCII, Mermaid and JSON.

use std::future::pending;
use std::time::Duration;

use scope_spawn::{CancelReason, Scope, ScopeState};

#[tokio::test(start_paused = true)]
async fn a_snapshot_lists_names_states_ages_and_deadlines() {
    let server = Scope::builder().name("server").build();
    let _watcher = server.spawn_named("watcher", pending::<()>());
    tokio::time::advance(Duration::from_secs(1)).await;
    let request = Scope::builder()
        .name("GET /users")
        .parent(&server)
        .timeout(Duration::from_secs(5))
        .build();
    let _fetch = request.spawn_named(String::from("fetch"), pending::<()>());
    let _audit = request.spawn_guarded(pending::<()>());
    let cancelled = Scope::builder().name("gone").parent(&server).build();
    let _stuck = cancelled.spawn_guarded(pending::<()>());
    cancelled.cancel_with(CancelReason::requested("test"));

    let snap = server.snapshot();
    assert_eq!(snap.name, "server");
    assert_eq!(snap.live_tasks, 4);
    assert_eq!(snap.tasks.len(), 1);
    assert_eq!(snap.tasks[0].name.as_deref(), Some("watcher"));
    assert_eq!(snap.tasks[0].age, Duration::from_secs(1));
    assert_eq!(snap.children.len(), 2);
    let req = &snap.children[0];
    assert_eq!(req.name, "GET /users");
    assert_eq!(req.state, ScopeState::Running);
    assert_eq!(req.deadline_in, Some(Duration::from_secs(5)));
    assert!(req.tasks.iter().any(|t| t.guarded));
    let gone = &snap.children[1];
    assert_eq!(gone.state, ScopeState::Cancelled);
    assert_eq!(
        gone.cancel_reason,
        Some(CancelReason::Requested(Some("test".into())))
    );
}

#[tokio::test(start_paused = true)]
async fn the_ascii_tree_renders_the_hierarchy() {
    let server = Scope::builder().name("server").build();
    let _watcher = server.spawn_named("watcher", pending::<()>());
    let request = Scope::builder().name("GET /users").parent(&server).build();
    let _fetch = request.spawn_named("fetch", pending::<()>());
    let ids = (server.id(), request.id());

    let tree = server.snapshot().to_string();
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 4, "{tree}");
    assert_eq!(
        lines[0],
        format!("scope server #{} (running, 2 live, age 0µs)", ids.0)
    );
    assert!(lines[1].starts_with("├── task watcher #"), "{tree}");
    assert_eq!(
        lines[2],
        format!("└── scope GET /users #{} (running, 1 live, age 0µs)", ids.1)
    );
    assert!(lines[3].starts_with("    └── task fetch #"), "{tree}");
}

#[tokio::test]
async fn the_mermaid_graph_has_a_node_per_scope_and_task_and_edges() {
    let server = Scope::builder().name("server").build();
    let task = server.spawn_named("watcher", pending::<()>());
    let request = Scope::builder()
        .name("GET /\"quoted\"")
        .parent(&server)
        .build();
    let _fetch = request.spawn(pending::<()>());
    let mermaid = server.snapshot().to_mermaid();
    assert!(mermaid.starts_with("graph TD\n"), "{mermaid}");
    let (s, r, t) = (server.id(), request.id(), task.id());
    assert!(
        mermaid.contains(&format!("s{s}[\"scope server #{s}")),
        "{mermaid}"
    );
    assert!(
        mermaid.contains(&format!("s{s} --> t{t}(\"task watcher #{t}")),
        "{mermaid}"
    );
    assert!(mermaid.contains(&format!("s{s} --> s{r}\n")), "{mermaid}");
    assert!(mermaid.contains("#quot;quoted#quot;"), "{mermaid}");
}

#[cfg(feature = "serde")]
#[tokio::test]
async fn a_snapshot_serializes_to_json() {
    let server = Scope::builder().name("server").build();
    let _t = server.spawn_named("watcher", pending::<()>());
    let json = serde_json::to_value(server.snapshot()).unwrap();
    assert_eq!(json["name"], "server");
    assert_eq!(json["state"], "running");
    assert_eq!(json["tasks"][0]["name"], "watcher");
    assert_eq!(json["live_tasks"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_child_scope_ages_from_its_first_use_and_a_root_from_its_creation() {
    let root = Scope::builder().name("root").build();
    let child = root.child();
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(root.snapshot().age, Duration::from_secs(2));
    assert_eq!(child.snapshot().age, Duration::ZERO, "never used yet");

    let _task = child.spawn(pending::<()>());
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(child.snapshot().age, Duration::from_secs(3));
    assert_eq!(root.snapshot().children[0].age, Duration::from_secs(3));
    assert_eq!(root.snapshot().age, Duration::from_secs(5));
}
