//! fork() with callbacks pending (own process: forks).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

fn hold_reader(entered: Arc<Barrier>, release: Arc<AtomicBool>) {
    let _g = rcu_memb::read_lock();
    entered.wait();
    while !release.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_forked_child_runs_pending_and_new_callbacks() {
    rcu_testkit::fork::child_runs_pending_and_new_callbacks::<rcu_memb::Memb>(hold_reader);
}
