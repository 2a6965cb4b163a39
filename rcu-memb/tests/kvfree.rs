//! Headless kvfree_rcu: thread exit, every emergency branch, every object
//! shape, destructor panics, block caches, and RcuCell::replace on top.

use rcu_testkit::kvfree::Held;
use rcu_testkit::ReaderChecks;
use std::sync::atomic::{AtomicBool, Ordering};

fn in_read_section(f: &mut dyn FnMut()) {
    let _g = rcu_memb::read_lock();
    f();
}

fn cell_reader(cell: &'static rcu_memb::RcuCell<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let g = rcu_memb::read_lock();
        checks.check(cell.load(&g).element);
    }
}

rcu_testkit::kvfree_tests!(rcu_memb::Memb, in_read_section, cell_reader);
