//! Polled grace periods (rcu-testkit's `polling` scenarios): cookies
//! complete without anyone calling synchronize_rcu, and never while a reader
//! that predates them is inside.

fn hold(entered: &std::sync::Barrier, release: &std::sync::atomic::AtomicBool) {
    let guard = rcu_memb::read_lock();
    entered.wait();
    // SeqCst: a stop flag, stored SeqCst by the scenario.
    while !release.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(guard);
}

rcu_testkit::polling_tests!(rcu_memb::Memb, hold);
