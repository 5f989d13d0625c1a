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

/// What can be lent to the thread-local: a scope, or a task's record. Each
/// goes in as the two cells' contents, one pointer each, and comes back out
/// of them; nothing is moved in or out as a whole (a wide copy of fields
/// just written one by one waits for those writes to land).
pub(crate) trait Lend: Sized {
    /// Whether lending one swaps the task cell too. A lent scope is found
    /// first (see [`current`]), so lending one swaps one cell, not two —
    /// unless there is none to lend, when both cells are emptied.
    const SWAPS_TASK: bool;
    /// What goes into the scope cell and the task cell.
    fn into_cells(lent: Option<Self>) -> (Option<Scope>, Option<Arc<TaskRecord>>);
    /// Back from the cells: what was lent.
    fn from_cells(scope: Option<Scope>, task: Option<Arc<TaskRecord>>) -> Option<Self>;
}

impl Lend for Scope {
    const SWAPS_TASK: bool = false;

    #[inline]
    fn into_cells(lent: Option<Self>) -> (Option<Scope>, Option<Arc<TaskRecord>>) {
        (lent, None)
    }

    #[inline]
    fn from_cells(scope: Option<Scope>, _: Option<Arc<TaskRecord>>) -> Option<Self> {
        scope
    }
}

impl Lend for Arc<TaskRecord> {
    const SWAPS_TASK: bool = true;

    #[inline]
    fn into_cells(lent: Option<Self>) -> (Option<Scope>, Option<Arc<TaskRecord>>) {
        (None, lent)
    }

    #[inline]
    fn from_cells(_scope: Option<Scope>, task: Option<Arc<TaskRecord>>) -> Option<Self> {
        // The scope, if `current` cloned it, goes.
        task
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

    /// Puts `scope` (and `task`, if `swap_task`) into the cells; returns
    /// what they held (the task cell's, if swapped).
    #[inline]
    fn swap(
        &self,
        scope: Option<Scope>,
        task: Option<Arc<TaskRecord>>,
        swap_task: bool,
    ) -> (Option<Scope>, Option<Arc<TaskRecord>>) {
        let scope = self.scope.replace(scope);
        let task = if swap_task {
            self.task.replace(task)
        } else {
            None
        };
        (scope, task)
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
    /// What the cells held before, kept apart (see [`Lend`]).
    outer_scope: Option<Scope>,
    outer_task: Option<Arc<TaskRecord>>,
    /// Whether the task cell was swapped (see [`Lend::SWAPS_TASK`]).
    swapped_task: bool,
    not_send: PhantomData<*const ()>,
}

impl<'a, L: Lend> Entered<'a, L> {
    #[inline]
    pub(crate) fn new(slot: &'a mut Option<L>) -> Self {
        let lent = slot.take();
        let swapped_task = L::SWAPS_TASK || lent.is_none();
        let (scope, task) = L::into_cells(lent);
        match CURRENT.try_with(|current| current.swap(scope, task, swapped_task)) {
            Ok((outer_scope, outer_task)) => Entered {
                slot: Some(slot),
                outer_scope,
                outer_task,
                swapped_task,
                not_send: PhantomData,
            },
            Err(_) => Entered {
                slot: None,
                outer_scope: None,
                outer_task: None,
                swapped_task,
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
        let outer_scope = self.outer_scope.take();
        let outer_task = self.outer_task.take();
        if let Ok((scope, task)) =
            CURRENT.try_with(|current| current.swap(outer_scope, outer_task, self.swapped_task))
        {
            // Entered and left last in, first out: what comes back is what
            // was lent.
            *slot = L::from_cells(scope, task);
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
