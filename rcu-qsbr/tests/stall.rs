//! Stall warnings (rcu-testkit's `stall` scenarios): a thread online
//! without a quiescent state past `RCU_STALL_TIMEOUT` is named. Its own
//! binary: the scenarios set the process-wide threshold and warning sink.

fn hold(entered: &std::sync::Barrier, release: &std::sync::atomic::AtomicBool) {
    let thread = rcu_qsbr::register_thread();
    entered.wait();
    // Relaxed: a stop flag; nothing is published through it.
    while !release.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(thread);
}

rcu_testkit::stall_tests!("qsbr", "online without a quiescent state", hold, rcu_qsbr::synchronize_rcu, rcu_qsbr::stats);
