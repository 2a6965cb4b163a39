//! fork() with callbacks pending (own process: forks).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

fn hold_reader(entered: Arc<Barrier>, release: Arc<AtomicBool>) {
    let mut t = rcu_qsbr::register_thread();
    entered.wait();
    while !release.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    t.quiescent_state();
}

#[test]
fn a_forked_child_runs_pending_and_new_callbacks() {
    rcu_testkit::fork::child_runs_pending_and_new_callbacks::<rcu_qsbr::Qsbr>(hold_reader);
}
