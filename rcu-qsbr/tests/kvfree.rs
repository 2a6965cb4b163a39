//! Headless kvfree_rcu: thread exit, every emergency branch, every object
//! shape, destructor panics, block caches, and RcuCell::replace on top.

use rcu_testkit::kvfree::Held;
use rcu_testkit::ReaderChecks;
use std::sync::atomic::{AtomicBool, Ordering};

fn in_read_section(f: &mut dyn FnMut()) {
    let _online = rcu_qsbr::register_thread();
    f();
}

fn cell_reader(cell: &'static rcu_qsbr::RcuCell<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    let mut t = rcu_qsbr::register_thread();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let g = t.read_lock();
            checks.check(cell.load(&g).element);
        }
        t.quiescent_state();
    }
}

rcu_testkit::kvfree_tests!(rcu_qsbr::Qsbr, in_read_section, cell_reader);
