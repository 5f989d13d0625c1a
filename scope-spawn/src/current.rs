//! What makes [`Scope::current`](crate::Scope::current) work: a thread-local
//! that holds what leads to the scope of the code being run on this thread —
//! a task's record (which holds its scope until the task settles), or the
//! scope itself for an [`InScope`] future, a closure, or a future run by a
//! guard (`ScopeRun`, the tower layer's response future), which lends its own
//! handle — and [`enter`], which moves it in for the length of one poll and
//! back out again.
//!
//! This is what `tokio::task_local!` does, with differences that matter on
//! the spawn path: a lent scope is *moved* in and out (a pointer swap), no
//! reference count touched; a task lends a clone of its record (one count up
//! and down per poll) rather than a scope, so that the task carries one
//! pointer in all (see `task.rs`), and its scope is cloned from the record
//! only when [`current`] asks for it, once per poll.

use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::Scope;
use crate::task::TaskRecord;

thread_local! {
    static CURRENT: Current = const {
        Current {
            scope: Cell::new(None),
            task: Cell::new(None),
        }
    };
}

/// What is current on a thread: two cells, each swapped as one pointer.
struct Current {
    /// The scope lent to the thread, or the scope of the task whose record
    /// is lent, once [`current`] has asked for it: cloned from the record
    /// (under its lock) once per poll, not once per call.
    scope: Cell<Option<Scope>>,
    /// The record of the task being run on the thread.
    task: Cell<Option<Arc<TaskRecord>>>,
}

/// What is lent to the thread-local, or was current before.
#[derive(Default)]
pub(crate) struct Lent {
    scope: Option<Scope>,
    /// `None`: the task cell is left as it is. A lent scope is found first
    /// (see [`current`]), so lending one swaps one cell, not two.
    task: Option<Option<Arc<TaskRecord>>>,
}

impl Lent {
    fn task(record: Arc<TaskRecord>) -> Self {
        Lent {
            scope: None,
            task: Some(Some(record)),
        }
    }

    /// Nothing current at all.
    fn nothing() -> Self {
        Lent {
            scope: None,
            task: Some(None),
        }
    }

    fn into_task(self) -> Option<Arc<TaskRecord>> {
        self.task.flatten()
    }
}

/// What can be lent to the thread-local: a scope, or a task's record.
pub(crate) trait Lend: Sized {
    fn lend(self) -> Lent;
    /// Back from the thread-local: what was lent.
    fn unlend(lent: Lent) -> Option<Self>;
}

impl Lend for Scope {
    #[inline]
    fn lend(self) -> Lent {
        Lent {
            scope: Some(self),
            task: None,
        }
    }

    #[inline]
    fn unlend(lent: Lent) -> Option<Self> {
        lent.scope
    }
}

impl Lend for Arc<TaskRecord> {
    #[inline]
    fn lend(self) -> Lent {
        Lent::task(self)
    }

    #[inline]
    fn unlend(lent: Lent) -> Option<Self> {
        // The scope, if `current` cloned it, goes.
        lent.into_task()
    }
}

impl Current {
    /// Runs `f` on the scope in the scope cell, which stays there.
    #[inline]
    fn with_scope<R>(&self, f: impl FnOnce(Option<&Scope>) -> R) -> R {
        let scope = self.scope.take();
        let out = f(scope.as_ref());
        self.scope.set(scope);
        out
    }

    #[inline]
    fn replace(&self, lent: Lent) -> Lent {
        Lent {
            scope: self.scope.replace(lent.scope),
            task: lent.task.map(|task| self.task.replace(task)),
        }
    }
}

/// The current scope, if any.
pub(crate) fn current() -> Option<Scope> {
    CURRENT
        .try_with(|current| {
            if let Some(scope) = current.with_scope(|scope| scope.cloned()) {
                return Some(scope);
            }
            let task = current.task.take();
            let scope = task.as_ref().and_then(|record| record.scope());
            current.task.set(task);
            current.scope.set(scope.clone());
            scope
        })
        .ok()
        .flatten()
}

/// Whether `scope` is in this thread's scope cell — lent, or cloned there
/// from the running task's record by [`current`]: entering it again would
/// change nothing that [`current`] reads.
#[inline]
pub(crate) fn is_lent(scope: &Scope) -> bool {
    CURRENT
        .try_with(|current| {
            current
                .with_scope(|lent| lent.is_some_and(|lent| Arc::ptr_eq(&lent.inner, &scope.inner)))
        })
        .unwrap_or(false)
}

/// Runs `f` with the scope in `slot` (or the scope of the task whose record
/// is in it) as the current scope. The handle is moved into the thread-local
/// and back into `slot` when `f` returns or unwinds; meanwhile `slot` is
/// `None`. With nothing in `slot`, `f` runs with no current scope. (If the
/// thread-local is gone — the thread is exiting — `f` runs without it.)
pub(crate) fn enter<L: Lend, R>(slot: &mut Option<L>, f: impl FnOnce() -> R) -> R {
    let _entered = Entered::new(slot);
    f()
}

/// The scope of a slot made current until this is dropped (see [`enter`]);
/// for callers that would otherwise move large values in and out of a closure.
///
/// It must be dropped on the thread that made it, before any `Entered` made
/// after it is dropped (last in, first out), and not be forgotten: hold it
/// only within one synchronous stretch of code, as [`enter`] does. It is not
/// `Send`, so it cannot be held across an `.await` in a task.
pub(crate) struct Entered<'a, L: Lend = Scope> {
    /// `None` if the thread-local is gone: then nothing was entered.
    slot: Option<&'a mut Option<L>>,
    outer: Lent,
    not_send: PhantomData<*const ()>,
}

impl<'a, L: Lend> Entered<'a, L> {
    #[inline]
    pub(crate) fn new(slot: &'a mut Option<L>) -> Self {
        match CURRENT
            .try_with(|current| current.replace(slot.take().map_or_else(Lent::nothing, L::lend)))
        {
            Ok(outer) => Entered {
                slot: Some(slot),
                outer,
                not_send: PhantomData,
            },
            Err(_) => Entered {
                slot: None,
                outer: Lent::default(),
                not_send: PhantomData,
            },
        }
    }
}

impl<L: Lend> Drop for Entered<'_, L> {
    #[inline]
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let outer = std::mem::take(&mut self.outer);
        if let Ok(lent) = CURRENT.try_with(|current| current.replace(outer)) {
            // Entered and left last in, first out: what comes back is what
            // was lent.
            *slot = L::unlend(lent);
        }
    }
}

pin_project! {
    /// Future for [`Scope::in_scope`](crate::Scope::in_scope): runs the inner
    /// future with a scope as [`Scope::current`](crate::Scope::current), also
    /// while the inner future is dropped. Once the inner future has completed,
    /// it lets go of its handle to the scope.
    #[must_use = "futures do nothing unless polled"]
    pub struct InScope<F> {
        scope: Option<Scope>,
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for InScope<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.inner.is_some() {
                enter(this.scope, || this.inner.set(None));
            }
        }
    }
}

impl<F> InScope<F> {
    #[inline]
    pub(crate) fn new(scope: Scope, inner: F) -> Self {
        Self::from_slot(Some(scope), inner)
    }

    #[inline]
    pub(crate) fn from_slot(scope: Option<Scope>, inner: F) -> Self {
        InScope {
            scope,
            inner: Some(inner),
        }
    }
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let scope = this.scope;
        let poll = enter(scope, || {
            poll_once(inner.as_mut(), cx, "scope-spawn: InScope")
        });
        if poll.is_ready() {
            *scope = None;
        }
        poll
    }
}

/// Polls the future in `slot` (with its scope entered) and, once it is ready,
/// drops it there and then, rather than entering the scope again to drop it
/// later. `owner` names the wrapper in the panic of a poll after completion.
#[inline]
pub(crate) fn poll_once<F: Future>(
    mut slot: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
    owner: &str,
) -> Poll<F::Output> {
    let Some(future) = slot.as_mut().as_pin_mut() else {
        panic!("{owner} polled after completion");
    };
    let poll = future.poll(cx);
    if poll.is_ready() {
        slot.set(None);
    }
    poll
}

impl<F> std::fmt::Debug for InScope<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InScope").finish_non_exhaustive()
    }
}
