//! The hand-over between a task being attached to its scope and the scope
//! being stopped (cancelled, or aborted at a shutdown deadline).
//!
//! A task's abort handle is published right after `tokio::spawn` returns, so a
//! cancellation may run in between. Each side writes, then reads the other
//! side's write:
//!
//! - the task: publish its handle ([`AbortSlot::publish`]), then read the
//!   scope's flag, and stop itself if it is raised;
//! - the cancellation: raise the flag, then take the handles and abort them.
//!
//! The handle's cell is behind a mutex, so one side takes it after the other
//! has let it go, and everything the first did before — its write — is seen
//! by the second: the task is stopped, by whichever side takes the handle
//! first (the other finds it gone, and one abort is all it takes). The loom
//! model below checks that under every interleaving, and fails if either side
//! reads before it writes.

use crate::sync::{AtomicBool, Mutex, MutexGuard, Ordering};

/// A task's abort handle, published once, right after the task is spawned,
/// and taken by whoever stops the task first — the task itself, a
/// cancellation or a shutdown's deadline. Each of them locks the mutex for
/// one store or one take, so it is all but never contended; on the spawn path
/// its lock and unlock cost less than `OnceLock`'s initialization machinery,
/// for the same two atomic operations. Under loom the mutex is loom's, so the
/// model below checks this very code.
///
/// The mutex also guards `K`, something else of the task's that more than
/// one side reaches but only now and then (a task's record keeps its scope
/// here: cloned by `Scope::current`, taken when the task settles), so that
/// a record has one lock rather than two.
pub(crate) struct AbortSlot<H, K = ()>(Mutex<Slot<H, K>>);

struct Slot<H, K> {
    handle: Option<H>,
    kept: K,
}

impl<H, K> AbortSlot<H, K> {
    pub(crate) fn new(kept: K) -> Self {
        AbortSlot(Mutex::new(Slot { handle: None, kept }))
    }

    /// Publishes the handle. Then read the flag: if it is raised, stop the
    /// task yourself.
    pub(crate) fn publish(&self, handle: H) {
        self.lock().handle = Some(handle);
    }

    /// Takes the handle, if it has been published and not taken yet: one
    /// stop is enough (aborting a task again does nothing more), and the
    /// handle, which keeps the runtime's task cell, goes as soon as it has
    /// been used.
    pub(crate) fn take(&self) -> Option<H> {
        self.lock().handle.take()
    }

    /// Runs `f` on what the slot keeps besides the handle, under its lock.
    pub(crate) fn with_kept<R>(&self, f: impl FnOnce(&mut K) -> R) -> R {
        f(&mut self.lock().kept)
    }

    fn lock(&self) -> MutexGuard<'_, Slot<H, K>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Raises a stop flag; true if it was already raised.
pub(crate) fn raise(flag: &AtomicBool) -> bool {
    flag.swap(true, Ordering::SeqCst)
}

#[cfg(all(test, scope_spawn_loom))]
mod loom_model {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;

    #[test]
    fn loom_a_task_attached_during_its_cancellation_is_stopped() {
        loom::model(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let slot = Arc::new(AbortSlot::new(()));
            let stops = Arc::new(AtomicUsize::new(0));
            let attach = {
                let (flag, slot, stops) = (flag.clone(), slot.clone(), stops.clone());
                loom::thread::spawn(move || {
                    slot.publish(1_u8);
                    if flag.load(Ordering::SeqCst) && slot.take().is_some() {
                        stops.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            raise(&flag);
            if slot.take().is_some() {
                stops.fetch_add(1, Ordering::SeqCst);
            }
            attach.join().unwrap();
            assert_eq!(
                stops.load(Ordering::SeqCst),
                1,
                "the task must be stopped, and once"
            );
        });
    }
}
