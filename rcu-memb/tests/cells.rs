//! `RcuCell::update`, `compare_exchange`, `swap` and `RcuOption` against
//! readers (rcu-testkit's `cells`).

use rcu_testkit::kvfree::Held;
use rcu_testkit::ReaderChecks;
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

fn cell_reader(cell: &'static rcu_memb::RcuCell<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let g = rcu_memb::read_lock();
        let held = cell.load(&g);
        // Repeated: widens the window an early free needs to be seen.
        (0..16).for_each(|_| checks.check(held.element));
    }
}

fn option_reader(cell: &'static rcu_memb::RcuOption<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let g = rcu_memb::read_lock();
        if let Some(held) = cell.load(&g) {
            checks.check(held.element);
        }
    }
}

rcu_testkit::cell_tests!(rcu_memb::Memb, common::in_read_section, cell_reader, option_reader);
