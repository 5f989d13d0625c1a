//! Tracing: a task runs inside a `scope_task` span whose parent is the span
//! current where it was spawned.
//!
//! Its own test binary, with one test: tracing caches whether a callsite is
//! enabled in process-wide state, and tasks spawned at the same time by other
//! tests (with no subscriber) could race the subscriber this test installs
//! for the `scope_task` callsite.

use scope_spawn::Scope;

#[tokio::test]
async fn tasks_run_inside_a_span_parented_to_the_spawn_site() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    /// Records (span name, parent span name) for every new span.
    #[derive(Clone, Default)]
    struct Parents(Arc<Mutex<Vec<SpanAndParent>>>);
    type SpanAndParent = (String, Option<String>);
    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Parents {
        fn on_new_span(
            &self,
            _: &tracing::span::Attributes<'_>,
            id: &tracing::span::Id,
            ctx: Context<'_, S>,
        ) {
            let span = ctx.span(id).unwrap();
            let parent = span.parent().map(|p| p.name().to_owned());
            self.0
                .lock()
                .unwrap()
                .push((span.name().to_owned(), parent));
        }
    }

    let parents = Parents::default();
    let subscriber = tracing_subscriber::registry().with(parents.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let guard = Scope::new();
    let request = tracing::info_span!("request");
    let handle = {
        let _entered = request.enter();
        guard.spawn(async { tracing::Span::current().metadata().map(|m| m.name()) })
    };
    // The current-thread runtime polls the task on this thread, under our subscriber.
    assert_eq!(handle.await.unwrap(), Some("scope_task"));
    let recorded = parents.0.lock().unwrap().clone();
    assert!(
        recorded.contains(&("scope_task".to_owned(), Some("request".to_owned()))),
        "{recorded:?}"
    );

    // A task stopped before it finished drops its future inside its span too,
    // and leaves it afterwards.
    struct NoteSpanOnDrop(std::sync::mpsc::Sender<Option<&'static str>>);
    impl Drop for NoteSpanOnDrop {
        fn drop(&mut self) {
            let _ = self
                .0
                .send(tracing::Span::current().metadata().map(|m| m.name()));
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    // Moved in: it goes with the future, polled or not.
    let note = NoteSpanOnDrop(tx);
    let stopped = guard.spawn(async move {
        let _note = note;
        std::future::pending::<()>().await
    });
    guard.cancel();
    assert!(stopped.await.unwrap_err().is_cancelled());
    assert_eq!(rx.try_recv(), Ok(Some("scope_task")));
    assert!(tracing::Span::current().is_none());
}
