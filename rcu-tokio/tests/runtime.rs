//! Runtimes of both flavours and every QSBR policy, multi-thread and
//! current-thread: tasks read whole tables while a thread outside the
//! runtime replaces them and waits for grace periods and callbacks (which
//! must complete: no runtime thread holds a grace period up while idle or
//! between tasks), nested scopes, reads on blocking-pool threads and on the
//! `block_on` thread.

use rcu_testkit::versioned::check;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const N: usize = 1_000;
const VERSIONS: u64 = 30;
const TASKS: usize = 64;

fn table(version: u64) -> Vec<u64> {
    rcu_testkit::versioned::table(version, N)
}

/// Which read function the tasks use; the runtime decides the policy.
#[derive(Clone, Copy)]
enum Flavour {
    Memb,
    Qsbr,
}

/// Spawns `TASKS` tasks that read (yielding between reads) until the
/// writer is done, while a thread outside the runtime replaces the table
/// `VERSIONS` times, waiting for a grace period and then for the callbacks
/// after each replacement.
fn readers_and_a_writer(runtime: tokio::runtime::Runtime, flavour: Flavour) {
    let memb = Arc::new(rcu_memb::RcuCell::new(table(0)));
    let qsbr = Arc::new(rcu_qsbr::RcuCell::new(table(0)));
    let done = Arc::new(AtomicBool::new(false));
    let writer = std::thread::spawn({
        let (memb, qsbr, done) = (memb.clone(), qsbr.clone(), done.clone());
        move || {
            for v in 1..=VERSIONS {
                match flavour {
                    Flavour::Memb => {
                        memb.replace(table(v));
                        rcu_memb::synchronize_rcu();
                        rcu_memb::rcu_barrier();
                    }
                    Flavour::Qsbr => {
                        qsbr.replace(table(v));
                        // Unregistered: may block. Completes because idle
                        // workers are offline and busy ones leave their scope.
                        rcu_qsbr::synchronize_rcu();
                        rcu_qsbr::rcu_barrier();
                    }
                }
            }
            // Relaxed: only stops the readers' loops; the join below orders
            // everything else.
            done.store(true, Ordering::Relaxed);
        }
    });
    let reads: u64 = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (memb, qsbr, done) = (memb.clone(), qsbr.clone(), done.clone());
                tokio::spawn(async move {
                    let mut reads = 0u64;
                    let mut last = 0;
                    // Relaxed: see the store.
                    while !done.load(Ordering::Relaxed) || reads == 0 {
                        let version = match flavour {
                            Flavour::Memb => rcu_tokio::memb::read(|g| check(memb.load(g))),
                            Flavour::Qsbr => rcu_tokio::qsbr::read(|g| check(qsbr.load(g))),
                        };
                        assert!(version >= last, "a task saw an older table after a newer one");
                        last = version;
                        reads += 1;
                        tokio::task::yield_now().await;
                    }
                    reads
                })
            })
            .collect();
        let mut reads = 0;
        for task in tasks {
            reads += task.await.unwrap();
        }
        reads
    });
    writer.join().unwrap();
    assert!(reads >= TASKS as u64);
    drop(runtime);
}

#[test]
fn memb_multi_thread_tasks_read_while_a_writer_replaces_and_synchronizes() {
    let runtime = rcu_tokio::memb::runtime_builder_multi_thread().worker_threads(2).build().unwrap();
    readers_and_a_writer(runtime, Flavour::Memb);
}

#[test]
fn memb_current_thread_tasks_read_while_a_writer_replaces_and_synchronizes() {
    let runtime = rcu_tokio::memb::runtime_builder_current_thread().build().unwrap();
    readers_and_a_writer(runtime, Flavour::Memb);
}

#[test]
fn qsbr_multi_thread_tasks_read_while_a_writer_replaces_and_synchronizes() {
    let runtime = rcu_tokio::qsbr::runtime_builder_multi_thread().worker_threads(2).build().unwrap();
    readers_and_a_writer(runtime, Flavour::Qsbr);
}

#[test]
fn qsbr_online_until_park_tasks_read_while_a_writer_replaces_and_synchronizes() {
    let runtime = rcu_tokio::qsbr::runtime_builder_multi_thread_online_until_park().worker_threads(2).build().unwrap();
    readers_and_a_writer(runtime, Flavour::Qsbr);
}

#[test]
fn qsbr_current_thread_tasks_read_while_a_writer_replaces_and_synchronizes() {
    // On a thread of its own: its first read registers it (tasks run on
    // the `block_on` thread) until it exits.
    std::thread::spawn(|| {
        let runtime = rcu_tokio::qsbr::runtime_builder_current_thread().build().unwrap();
        readers_and_a_writer(runtime, Flavour::Qsbr);
    })
    .join()
    .unwrap();
}

/// Every worker reads once, then the runtime is left idle: a grace period
/// from a thread outside it completes (it waits for no parked worker, or,
/// online until park, only until the workers park).
fn synchronize_with_parked_workers(runtime: tokio::runtime::Runtime) {
    let cell = Arc::new(rcu_qsbr::RcuCell::new(7u64));
    runtime.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cell = cell.clone();
                tokio::spawn(async move { rcu_tokio::qsbr::read(|g| *cell.load(g)) })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 7);
        }
    });
    // The runtime is idle: its workers park.
    rcu_qsbr::synchronize_rcu();
    cell.replace(8);
    rcu_qsbr::rcu_barrier();
    assert_eq!(
        runtime
            .block_on(async { tokio::spawn(async move { rcu_tokio::qsbr::read(|g| *cell.load(g)) }).await.unwrap() }),
        8
    );
    rcu_qsbr::synchronize_rcu();
}

#[test]
fn qsbr_synchronize_from_outside_completes_while_workers_are_parked() {
    synchronize_with_parked_workers(rcu_tokio::qsbr::runtime_builder_multi_thread().worker_threads(2).build().unwrap());
}

#[test]
fn qsbr_online_until_park_synchronize_from_outside_completes_while_workers_are_parked() {
    synchronize_with_parked_workers(
        rcu_tokio::qsbr::runtime_builder_multi_thread_online_until_park().worker_threads(2).build().unwrap(),
    );
}

#[test]
fn memb_synchronize_from_outside_completes_while_workers_are_parked() {
    let runtime = rcu_tokio::memb::runtime_builder_multi_thread().worker_threads(2).build().unwrap();
    let cell = Arc::new(rcu_memb::RcuCell::new(7u64));
    let read = runtime.block_on({
        let cell = cell.clone();
        async move { tokio::spawn(async move { rcu_tokio::memb::read(|g| *cell.load(g)) }).await.unwrap() }
    });
    assert_eq!(read, 7);
    rcu_memb::synchronize_rcu();
    cell.replace(8);
    rcu_memb::rcu_barrier();
}

#[test]
fn qsbr_nested_scopes_blocking_pool_and_synchronize_in_spawn_blocking() {
    for runtime in [
        rcu_tokio::qsbr::runtime_builder_multi_thread().worker_threads(2).build().unwrap(),
        rcu_tokio::qsbr::runtime_builder_multi_thread_online_until_park().worker_threads(2).build().unwrap(),
    ] {
        let cell = Arc::new(rcu_qsbr::RcuCell::new(table(3)));
        let total = runtime.block_on(async {
            let nested = tokio::spawn({
                let cell = cell.clone();
                async move {
                    rcu_tokio::qsbr::read(|g| check(cell.load(g)) + rcu_tokio::qsbr::read(|g| check(cell.load(g))))
                }
            });
            // A blocking-pool thread: registered by the start hook, online
            // only inside `read`, so it may wait for a grace period.
            let blocking = tokio::task::spawn_blocking({
                let cell = cell.clone();
                move || {
                    let version = rcu_tokio::qsbr::read(|g| check(cell.load(g)));
                    rcu_qsbr::synchronize_rcu();
                    version
                }
            });
            nested.await.unwrap() + blocking.await.unwrap()
        });
        assert_eq!(total, 9);
        // The `block_on` thread of a multi-thread runtime runs no tasks, but
        // may read too (registered at its first read, offline after it).
        assert_eq!(runtime.block_on(async { rcu_tokio::qsbr::read(|g| check(cell.load(g))) }), 3);
        rcu_qsbr::synchronize_rcu();
    }
}

#[test]
fn qsbr_a_panicking_scope_leaves_the_worker_offline() {
    let runtime = rcu_tokio::qsbr::runtime_builder_multi_thread().worker_threads(1).build().unwrap();
    let panicked = runtime.block_on(async {
        tokio::spawn(async { rcu_tokio::qsbr::read(|_| panic!("a task's read scope panics")) }).await
    });
    assert!(panicked.unwrap_err().is_panic());
    // The only worker is offline again (and its depth back to 0): grace
    // periods complete and it still reads.
    rcu_qsbr::synchronize_rcu();
    let cell = Arc::new(rcu_qsbr::RcuCell::new(5u64));
    let read =
        runtime.block_on(async move { tokio::spawn(async move { rcu_tokio::qsbr::read(|g| *cell.load(g)) }).await });
    assert_eq!(read.unwrap(), 5);
    rcu_qsbr::synchronize_rcu();
}
