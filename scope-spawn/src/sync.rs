//! The synchronization primitives the runtime's hand-over protocols are built
//! on — the limiter's slots (`limit.rs`), the abort gate between spawning and
//! cancelling (`gate.rs`) and the idle wake-up of a scope's holds
//! (`books.rs`): std's and tokio's, or loom's under `--cfg scope_spawn_loom`,
//! where the loom models in those files check the protocols under every
//! interleaving.
//!
//! ```sh
//! RUSTFLAGS="--cfg scope_spawn_loom" cargo test -p scope-spawn@0.2.0 --lib --release loom
//! ```

#[cfg(not(scope_spawn_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(scope_spawn_loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};
#[cfg(not(scope_spawn_loom))]
pub(crate) use tokio::sync::{Notify, oneshot};

#[cfg(scope_spawn_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(scope_spawn_loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(scope_spawn_loom)]
pub(crate) use notify::Notify;

/// A oneshot channel on loom's primitives, with the subset of tokio's API the
/// limiter uses.
#[cfg(scope_spawn_loom)]
pub(crate) mod oneshot {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use loom::sync::{Arc, Mutex};

    struct Shared<T> {
        value: Option<T>,
        closed: bool,
        sender_gone: bool,
        waker: Option<Waker>,
    }

    pub(crate) struct Sender<T>(Arc<Mutex<Shared<T>>>);
    pub(crate) struct Receiver<T>(Arc<Mutex<Shared<T>>>);

    #[derive(Debug)]
    pub(crate) struct RecvError;

    pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Mutex::new(Shared {
            value: None,
            closed: false,
            sender_gone: false,
            waker: None,
        }));
        (Sender(shared.clone()), Receiver(shared))
    }

    impl<T> Sender<T> {
        pub(crate) fn send(self, value: T) -> Result<(), T> {
            let mut shared = self.0.lock().unwrap();
            if shared.closed {
                return Err(value);
            }
            shared.value = Some(value);
            if let Some(waker) = shared.waker.take() {
                waker.wake();
            }
            Ok(())
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            let mut shared = self.0.lock().unwrap();
            shared.sender_gone = true;
            if let Some(waker) = shared.waker.take() {
                waker.wake();
            }
        }
    }

    impl<T> Receiver<T> {
        pub(crate) fn close(&mut self) {
            self.0.lock().unwrap().closed = true;
        }

        pub(crate) fn try_recv(&mut self) -> Result<T, RecvError> {
            self.0.lock().unwrap().value.take().ok_or(RecvError)
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            self.0.lock().unwrap().closed = true;
        }
    }

    impl<T> Future for Receiver<T> {
        type Output = Result<T, RecvError>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let mut shared = self.0.lock().unwrap();
            if let Some(value) = shared.value.take() {
                Poll::Ready(Ok(value))
            } else if shared.sender_gone {
                Poll::Ready(Err(RecvError))
            } else {
                shared.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A stand-in for tokio's `Notify` on loom's primitives, with the subset of
/// its API that `Holds::idle` uses and only the promise the idle wake-up
/// relies on: `notify_waiters` wakes the waiters enabled before it. Tokio
/// promises more (a waiter receives it from the moment it is created), so a
/// protocol that holds here holds with tokio's.
#[cfg(scope_spawn_loom)]
mod notify {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use loom::sync::Mutex;

    pub(crate) struct Notify(Mutex<Waiters>);

    struct Waiters {
        /// How many times `notify_waiters` has been called.
        generation: u64,
        wakers: Vec<Waker>,
    }

    /// A waiter: notified once the generation has moved since it was
    /// enabled.
    pub(crate) struct Notified<'a> {
        notify: &'a Notify,
        enabled_at: Option<u64>,
    }

    impl Notify {
        /// Named after tokio's constructor, so that the call site is the same;
        /// not `const` under loom.
        pub(crate) fn const_new() -> Self {
            Notify(Mutex::new(Waiters {
                generation: 0,
                wakers: Vec::new(),
            }))
        }

        pub(crate) fn notified(&self) -> Notified<'_> {
            Notified {
                notify: self,
                enabled_at: None,
            }
        }

        /// Wakes every enabled waiter.
        pub(crate) fn notify_waiters(&self) {
            let wakers = {
                let mut waiters = self.0.lock().unwrap();
                waiters.generation += 1;
                std::mem::take(&mut waiters.wakers)
            };
            for waker in wakers {
                waker.wake();
            }
        }
    }

    impl Notified<'_> {
        /// Enables the waiter, if it is not yet; true if it has been notified
        /// since.
        pub(crate) fn enable(self: Pin<&mut Self>) -> bool {
            let this = self.get_mut();
            let waiters = this.notify.0.lock().unwrap();
            let enabled_at = *this.enabled_at.get_or_insert(waiters.generation);
            waiters.generation != enabled_at
        }
    }

    impl Future for Notified<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let this = self.get_mut();
            let mut waiters = this.notify.0.lock().unwrap();
            let enabled_at = *this.enabled_at.get_or_insert(waiters.generation);
            if waiters.generation != enabled_at {
                Poll::Ready(())
            } else {
                waiters.wakers.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
