//! [`ScopeSnapshot`]: what a scope tree is running, as data, an ASCII tree
//! (`Display`) or a Mermaid graph.

use std::fmt::{self, Write as _};
use std::time::Duration;

use tokio::time::Instant;

use crate::task::{QUEUED, TaskRecord};
use crate::{CancelReason, Scope, ScopeId, TaskId};

/// A point-in-time view of a scope, its live tasks and its child scopes.
///
/// `Display` renders an ASCII tree; [`to_mermaid`](ScopeSnapshot::to_mermaid) a
/// Mermaid `graph TD`; with the `serde` feature it serializes (to JSON, say).
///
/// # Examples
///
/// ```
/// use scope_spawn::Scope;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = Scope::builder().name("server").build();
/// let _watcher = server.spawn_named("watcher", std::future::pending::<()>());
/// let request = Scope::builder().name("GET /users").parent(&server).build();
/// let _fetch = request.spawn_named("fetch", std::future::pending::<()>());
///
/// let tree = server.snapshot().to_string();
/// assert!(tree.contains("server"));
/// assert!(tree.contains("└── scope GET /users"));
/// assert!(tree.contains("fetch"));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ScopeSnapshot {
    /// The scope's id.
    pub id: ScopeId,
    /// The scope's name.
    pub name: String,
    /// Running or cancelled.
    pub state: ScopeState,
    /// Why the scope was cancelled, if it was.
    pub cancel_reason: Option<CancelReason>,
    /// Time since the scope was created — for a child scope, since it was
    /// first used (its first task or finalizer, or that of a scope below
    /// it): before that a child costs nothing, not even a clock read, and
    /// its age is zero.
    pub age: Duration,
    /// Time left until the effective deadline, if there is one (zero once past).
    pub deadline_in: Option<Duration>,
    /// Live tasks in this scope and below.
    pub live_tasks: usize,
    /// This scope's own live tasks, oldest first.
    pub tasks: Vec<TaskSnapshot>,
    /// The child scopes, oldest first.
    pub children: Vec<ScopeSnapshot>,
}

/// A live task in a [`ScopeSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TaskSnapshot {
    /// The task's id.
    pub id: TaskId,
    /// The task's name, if it has one.
    pub name: Option<String>,
    /// Queued (under the scope's limit) or running.
    pub state: TaskState,
    /// Time since the task was spawned.
    pub age: Duration,
    /// Whether the task is guarded.
    pub guarded: bool,
    /// Whether the task is a blocking closure.
    pub blocking: bool,
}

/// The state of a scope in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ScopeState {
    /// Not cancelled.
    Running,
    /// Cancelled; its tasks are settling.
    Cancelled,
}

/// The state of a live task in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting for a slot of the scope's limit.
    Queued,
    /// Running.
    Running,
}

impl Scope {
    /// A snapshot of this scope, its live tasks and its child scopes, all the
    /// way down: tasks in the order they were spawned, child scopes in the
    /// order they were first used.
    pub fn snapshot(&self) -> ScopeSnapshot {
        let now = Instant::now();
        let tasks: Vec<TaskSnapshot> = self.inner.made().map_or_else(Vec::new, |rest| {
            rest.lock_tasks()
                .live()
                .map(|record| task_snapshot(record, now))
                .collect()
        });
        let children: Vec<ScopeSnapshot> = self.children().iter().map(Scope::snapshot).collect();
        let live_tasks = tasks.len() + children.iter().map(|c| c.live_tasks).sum::<usize>();
        let cancel_reason = self.cancel_reason();
        ScopeSnapshot {
            id: self.id(),
            name: self.name().to_owned(),
            state: if cancel_reason.is_some() {
                ScopeState::Cancelled
            } else {
                ScopeState::Running
            },
            cancel_reason,
            age: self.started().map_or(Duration::ZERO, |started| {
                now.saturating_duration_since(started)
            }),
            deadline_in: self.deadline().map(|d| d.saturating_duration_since(now)),
            live_tasks,
            tasks,
            children,
        }
    }
}

fn task_snapshot(record: &TaskRecord, now: Instant) -> TaskSnapshot {
    TaskSnapshot {
        id: record.id,
        name: record.name.as_deref().map(str::to_owned),
        state: if record.state() == QUEUED {
            TaskState::Queued
        } else {
            TaskState::Running
        },
        age: now.saturating_duration_since(record.started),
        guarded: record.guarded,
        blocking: record.blocking,
    }
}

impl ScopeSnapshot {
    /// Renders the tree as a Mermaid `graph TD`: one node per scope and task,
    /// edges from parent to child.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("graph TD\n");
        self.mermaid_into(&mut out);
        out
    }

    fn mermaid_into(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "    s{}[\"scope {} #{}<br/>{}\"]",
            self.id,
            mermaid_escape(&self.name),
            self.id,
            self.state_label()
        );
        for task in &self.tasks {
            let _ = writeln!(
                out,
                "    s{} --> t{}(\"task {}<br/>{}\")",
                self.id,
                task.id,
                mermaid_escape(&task.label()),
                task.state_label()
            );
        }
        for child in &self.children {
            child.mermaid_into(out);
            let _ = writeln!(out, "    s{} --> s{}", self.id, child.id);
        }
    }

    fn state_label(&self) -> String {
        let mut label = match &self.cancel_reason {
            None => "running".to_owned(),
            Some(reason) => format!("cancelled: {}", reason_label(reason)),
        };
        let _ = write!(
            label,
            ", {} live, age {}",
            self.live_tasks,
            fmt_age(self.age)
        );
        if let Some(left) = self.deadline_in {
            let _ = write!(label, ", deadline in {}", fmt_age(left));
        }
        label
    }

    fn write_tree(&self, f: &mut fmt::Formatter<'_>, prefix: &str) -> fmt::Result {
        let entries = self.tasks.len() + self.children.len();
        let mut index = 0;
        for task in &self.tasks {
            index += 1;
            let branch = if index == entries {
                "└── "
            } else {
                "├── "
            };
            writeln!(
                f,
                "{prefix}{branch}task {} ({})",
                task.label(),
                task.state_label()
            )?;
        }
        for child in &self.children {
            index += 1;
            let last = index == entries;
            let branch = if last { "└── " } else { "├── " };
            writeln!(
                f,
                "{prefix}{branch}scope {} #{} ({})",
                child.name,
                child.id,
                child.state_label()
            )?;
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            child.write_tree(f, &deeper)?;
        }
        Ok(())
    }
}

impl TaskSnapshot {
    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} #{}", self.id),
            None => format!("#{}", self.id),
        }
    }

    fn state_label(&self) -> String {
        let state = match self.state {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
        };
        let mut label = format!("{state} {}", fmt_age(self.age));
        if self.guarded {
            label.push_str(", guarded");
        }
        if self.blocking {
            label.push_str(", blocking");
        }
        label
    }
}

impl fmt::Display for ScopeSnapshot {
    /// An ASCII tree:
    ///
    /// ```text
    /// scope server #1 (running, 2 live, age 1.20s)
    /// ├── task watcher #3 (running 1.00s)
    /// └── scope GET /users #2 (cancelled: dropped, 1 live, age 300ms)
    ///     └── task fetch #4 (running 300ms)
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scope {} #{} ({})",
            self.name,
            self.id,
            self.state_label()
        )?;
        self.write_tree(f, "")
    }
}

fn reason_label(reason: &CancelReason) -> String {
    match reason {
        CancelReason::Dropped => "dropped".into(),
        CancelReason::Completed => "completed".into(),
        CancelReason::Requested(None) => "requested".into(),
        CancelReason::Requested(Some(msg)) => format!("requested ({msg})"),
        CancelReason::DeadlineExceeded => "deadline exceeded".into(),
        CancelReason::TaskFailed { task } => format!("task {task} failed"),
        CancelReason::ParentCancelled => "parent cancelled".into(),
        CancelReason::Shutdown => "shutdown".into(),
    }
}

fn fmt_age(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{}µs", d.as_micros())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}
