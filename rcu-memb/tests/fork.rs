//! fork() with callbacks pending (own process: forks).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};

/// One scenario at a time: each forks and compares counters, which another
/// scenario's callbacks and barriers running meanwhile would disturb.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn hold_reader(entered: Arc<Barrier>, release: Arc<AtomicBool>) {
    let _g = rcu_memb::read_lock();
    entered.wait();
    while !release.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_forked_child_runs_pending_and_new_callbacks() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    rcu_testkit::fork::child_runs_pending_and_new_callbacks::<rcu_memb::Memb>(hold_reader);
}

#[test]
fn a_forked_child_keeps_callback_counts_that_another_thread_has_not_flushed() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    rcu_testkit::fork::child_keeps_callback_counts_with_unflushed_residuals::<rcu_memb::Memb>();
}
