//! Races between spawning and cancelling on a multi-threaded runtime: a task
//! admitted while its scope is being cancelled is still stopped, never left
//! running. (The hand-over between `attach` and the cancellation walk is a
//! pair of fences; this runs it many times on real threads.)

use std::future::pending;
use std::time::Duration;

use scope_spawn::{Scope, TaskError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_spawned_while_their_scope_is_cancelled_all_stop() {
    for round in 0..1000 {
        let parent = Scope::new();
        let child = parent.child();
        let spawner = {
            let child = Scope::clone(&child);
            tokio::spawn(async move {
                let mut handles = Vec::new();
                for i in 0..64 {
                    handles.push(child.spawn(pending::<()>()));
                    if i % 8 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                handles
            })
        };
        let canceller = {
            let parent = Scope::clone(&parent);
            tokio::spawn(async move {
                for _ in 0..round % 7 {
                    tokio::task::yield_now().await;
                }
                parent.cancel();
            })
        };
        canceller.await.unwrap();
        let handles = spawner.await.unwrap();
        for handle in handles {
            let out = tokio::time::timeout(Duration::from_secs(5), handle)
                .await
                .unwrap_or_else(|_| panic!("round {round}: a task outlived its cancelled scope"));
            assert!(matches!(out, Err(TaskError::Cancelled(_))), "{out:?}");
        }
        assert_eq!(parent.live_tasks(), 0, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_activated_while_their_parent_is_cancelled_are_cancelled_too() {
    for round in 0..1000 {
        let parent = Scope::new();
        let children: Vec<_> = (0..16).map(|_| parent.child()).collect();
        let handles = {
            let scopes: Vec<Scope> = children.iter().map(|c| Scope::clone(c)).collect();
            tokio::spawn(async move {
                let mut handles = Vec::new();
                for scope in &scopes {
                    handles.push(scope.spawn(pending::<()>()));
                    tokio::task::yield_now().await;
                }
                handles
            })
        };
        for _ in 0..round % 5 {
            tokio::task::yield_now().await;
        }
        parent.cancel();
        for handle in handles.await.unwrap() {
            let out = tokio::time::timeout(Duration::from_secs(5), handle)
                .await
                .unwrap_or_else(|_| panic!("round {round}: a task outlived its cancelled parent"));
            assert!(out.unwrap_err().is_cancelled());
        }
        assert!(children.iter().all(|c| c.is_cancelled()));
        assert_eq!(parent.live_tasks(), 0, "round {round}");
    }
}
