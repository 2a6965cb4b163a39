//! Stall warnings (rcu-testkit's `stall` scenarios): a reader inside a
//! read-side section past `RCU_STALL_TIMEOUT` is named. Its own binary: the
//! scenarios set the process-wide threshold and warning sink.

fn hold(entered: &std::sync::Barrier, release: &std::sync::atomic::AtomicBool) {
    let guard = rcu_memb::read_lock();
    entered.wait();
    // Relaxed: a stop flag; nothing is published through it.
    while !release.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(guard);
}

rcu_testkit::stall_tests!("memb", "inside a read-side section", hold, rcu_memb::synchronize_rcu, rcu_memb::stats);
