//! Grace-period sharing (rcu-testkit's `polling` scenarios), in its own
//! process so no other test adds grace periods: N concurrent synchronize_rcu
//! callers cost far fewer than N.

fn hold(entered: &std::sync::Barrier, release: &std::sync::atomic::AtomicBool) {
    let thread = rcu_qsbr::register_thread();
    entered.wait();
    // SeqCst: a stop flag, stored SeqCst by the scenario.
    while !release.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(thread);
}

rcu_testkit::sharing_tests!(rcu_qsbr::Qsbr, hold);
