//! Process-wide unique ids for tasks and scopes.
//!
//! Each thread takes ids from a block of its own, and takes a new block from a
//! shared counter once in [`BLOCK`] ids, so that workers spawning tasks (or
//! building request scopes) at the same time do not take turns on one
//! counter's cache line. Ids are unique and increase on each thread, not
//! across threads.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::LocalKey;

const BLOCK: u64 = 1024;

static TASKS: AtomicU64 = AtomicU64::new(1);
static SCOPES: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The next task id of this thread's block, and the end of the block.
    static TASK_BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    static SCOPE_BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

pub(crate) fn next_task_id() -> u64 {
    next(&TASKS, &TASK_BLOCK)
}

pub(crate) fn next_scope_id() -> u64 {
    next(&SCOPES, &SCOPE_BLOCK)
}

fn next(shared: &'static AtomicU64, block: &'static LocalKey<Cell<(u64, u64)>>) -> u64 {
    block
        .try_with(|block| {
            let (next, end) = block.get();
            if next < end {
                block.set((next + 1, end));
                return next;
            }
            let start = shared.fetch_add(BLOCK, Ordering::Relaxed);
            block.set((start + 1, start + BLOCK));
            start
        })
        // The thread is exiting: take a block for one id.
        .unwrap_or_else(|_| shared.fetch_add(BLOCK, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_across_threads_and_increase_on_each() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    let ids: Vec<u64> = (0..3 * BLOCK).map(|_| next_task_id()).collect();
                    assert!(ids.windows(2).all(|w| w[0] < w[1]));
                    ids
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for thread in threads {
            for id in thread.join().unwrap() {
                assert!(seen.insert(id), "id {id} handed out twice");
            }
        }
        assert!(!seen.contains(&0));
    }
}
