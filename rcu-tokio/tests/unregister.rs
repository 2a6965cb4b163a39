//! A dropped runtime leaves no registration behind: every thread tokio
//! started (scheduler workers and blocking-pool threads) unregisters in its
//! stop hook, and tokio joins them before the drop returns. One test in its
//! own binary, so no other test's threads change the registered counts.

use std::sync::Arc;

/// One cell of each flavour.
type Cells = Arc<(rcu_memb::RcuCell<u64>, rcu_qsbr::RcuCell<u64>)>;

/// Runs every worker and a few blocking-pool threads, each reading once.
fn use_every_thread(runtime: &tokio::runtime::Runtime, read: fn(&Cells) -> u64) {
    let cells: Cells = Arc::new((rcu_memb::RcuCell::new(1u64), rcu_qsbr::RcuCell::new(1u64)));
    let total: u64 = runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (a, b) = (cells.clone(), cells.clone());
            tasks.push(tokio::spawn(async move { read(&a) }));
            tasks.push(tokio::task::spawn_blocking(move || read(&b)));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    assert_eq!(total, 32);
}

fn memb_read(cells: &Cells) -> u64 {
    rcu_tokio::memb::read(|g| *cells.0.load(g))
}

fn qsbr_read(cells: &Cells) -> u64 {
    rcu_tokio::qsbr::read(|g| *cells.1.load(g))
}

#[test]
fn every_runtime_thread_is_unregistered_after_the_runtime_is_dropped() {
    let memb_before = rcu_memb::stats().registered_threads;
    let qsbr_before = rcu_qsbr::stats().registered_threads;

    let runtime = rcu_tokio::memb::runtime_builder_multi_thread().worker_threads(2).build().unwrap();
    use_every_thread(&runtime, memb_read);
    assert!(rcu_memb::stats().registered_threads >= memb_before + 2, "workers register when they start");
    drop(runtime);
    assert_eq!(rcu_memb::stats().registered_threads, memb_before, "{}", rcu_memb::state_report());

    // One runtime at a time: each one's workers register when it is built.
    for builder in
        [rcu_tokio::qsbr::runtime_builder_multi_thread, rcu_tokio::qsbr::runtime_builder_multi_thread_online_until_park]
    {
        let runtime = builder().worker_threads(2).build().unwrap();
        use_every_thread(&runtime, qsbr_read);
        assert!(rcu_qsbr::stats().registered_threads >= qsbr_before + 2, "workers register when they start");
        drop(runtime);
        assert_eq!(rcu_qsbr::stats().registered_threads, qsbr_before, "{}", rcu_qsbr::state_report());
    }

    // Current-thread runtimes: the blocking pool unregisters with the
    // runtime; the `block_on` thread (a thread of its own here), registered
    // by its first read, when it exits.
    let current_thread = |memb: bool| {
        std::thread::spawn(move || {
            let (runtime, read) = if memb {
                (rcu_tokio::memb::runtime_builder_current_thread().build().unwrap(), memb_read as fn(&_) -> u64)
            } else {
                (rcu_tokio::qsbr::runtime_builder_current_thread().build().unwrap(), qsbr_read as fn(&_) -> u64)
            };
            use_every_thread(&runtime, read);
            drop(runtime);
        })
        .join()
        .unwrap();
    };
    current_thread(true);
    assert_eq!(rcu_memb::stats().registered_threads, memb_before, "{}", rcu_memb::state_report());
    current_thread(false);
    assert_eq!(rcu_qsbr::stats().registered_threads, qsbr_before, "{}", rcu_qsbr::state_report());

    // Nothing registered is left online: a grace period completes.
    rcu_qsbr::synchronize_rcu();
    rcu_memb::synchronize_rcu();
}
