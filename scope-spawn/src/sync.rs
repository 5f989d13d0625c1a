//! The synchronization primitives the runtime's two hand-over protocols are
//! built on — the limiter's slots (`limit.rs`) and the abort gate between
//! spawning and cancelling (`gate.rs`): std's and tokio's, or loom's under
//! `--cfg scope_spawn_loom`, where the loom models in those files check the
//! protocols under every interleaving.
//!
//! ```sh
//! RUSTFLAGS="--cfg scope_spawn_loom" cargo test -p scope-spawn@0.2.0 --lib --release loom
//! ```

#[cfg(not(scope_spawn_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, Ordering, fence};
#[cfg(not(scope_spawn_loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};
#[cfg(not(scope_spawn_loom))]
pub(crate) use tokio::sync::oneshot;

#[cfg(scope_spawn_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, Ordering, fence};
#[cfg(scope_spawn_loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

/// A cell written once: `OnceLock`, or a loom mutex under loom.
#[cfg(not(scope_spawn_loom))]
pub(crate) struct AbortCell<H>(std::sync::OnceLock<H>);

#[cfg(not(scope_spawn_loom))]
impl<H> AbortCell<H> {
    pub(crate) fn new() -> Self {
        AbortCell(std::sync::OnceLock::new())
    }

    pub(crate) fn set(&self, value: H) {
        let _ = self.0.set(value);
    }

    pub(crate) fn with(&self, f: impl FnOnce(&H)) {
        if let Some(value) = self.0.get() {
            f(value);
        }
    }
}

/// Under loom: the value behind a mutex (storage only), and the publication
/// through an atomic flag with `OnceLock`'s release/acquire orderings, so the
/// model sees the same ordering the real cell gives.
#[cfg(scope_spawn_loom)]
pub(crate) struct AbortCell<H> {
    value: loom::sync::Mutex<Option<H>>,
    published: AtomicBool,
}

#[cfg(scope_spawn_loom)]
impl<H> AbortCell<H> {
    pub(crate) fn new() -> Self {
        AbortCell {
            value: loom::sync::Mutex::new(None),
            published: AtomicBool::new(false),
        }
    }

    pub(crate) fn set(&self, value: H) {
        *self.value.lock().unwrap() = Some(value);
        self.published.store(true, Ordering::Release);
    }

    pub(crate) fn with(&self, f: impl FnOnce(&H)) {
        if self.published.load(Ordering::Acquire) {
            if let Some(value) = self.value.lock().unwrap().as_ref() {
                f(value);
            }
        }
    }
}

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
