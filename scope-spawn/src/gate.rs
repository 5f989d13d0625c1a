//! The hand-over between a task being attached to its scope and the scope
//! being stopped (cancelled, or aborted at a shutdown deadline).
//!
//! A task's abort handle is published right after `tokio::spawn` returns, so a
//! cancellation may run in between. Both sides write, fence, then read the
//! other side's write:
//!
//! - the task: publish its handle ([`AbortSlot::publish`]), then read the
//!   scope's flag, and stop itself if it is raised;
//! - the cancellation: raise the flag, [`after_raising`], then read the
//!   handles and abort them.
//!
//! With sequentially consistent fences at least one side sees the other, so
//! the task is stopped at least once (twice is harmless). The loom model below
//! checks that under every interleaving.

use crate::sync::{AbortCell, AtomicBool, Ordering, fence};

/// A task's abort handle, published once, right after the task is spawned.
pub(crate) struct AbortSlot<H>(AbortCell<H>);

impl<H> AbortSlot<H> {
    pub(crate) fn new() -> Self {
        AbortSlot(AbortCell::new())
    }

    /// Publishes the handle. Then read the flag: if it is raised, stop the
    /// task yourself.
    pub(crate) fn publish(&self, handle: H) {
        self.0.set(handle);
        fence(Ordering::SeqCst);
    }

    /// Runs `f` on the handle, if it has been published.
    pub(crate) fn with(&self, f: impl FnOnce(&H)) {
        self.0.with(f);
    }
}

/// Called by the stopping side between raising the flag and reading the slots.
pub(crate) fn after_raising() {
    fence(Ordering::SeqCst);
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
            let slot = Arc::new(AbortSlot::new());
            let stops = Arc::new(AtomicUsize::new(0));
            let attach = {
                let (flag, slot, stops) = (flag.clone(), slot.clone(), stops.clone());
                loom::thread::spawn(move || {
                    slot.publish(1_u8);
                    if flag.load(Ordering::SeqCst) {
                        stops.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            raise(&flag);
            after_raising();
            slot.with(|_| {
                stops.fetch_add(1, Ordering::SeqCst);
            });
            attach.join().unwrap();
            assert!(
                stops.load(Ordering::SeqCst) >= 1,
                "the task was never stopped"
            );
        });
    }
}
