//! `RcuCell::update`, `compare_exchange`, `swap` and `RcuOption` against
//! readers (rcu-testkit's `cells`).

use rcu_testkit::kvfree::Held;
use rcu_testkit::ReaderChecks;
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

fn cell_reader(cell: &'static rcu_qsbr::RcuCell<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    let mut t = rcu_qsbr::register_thread();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let g = t.read_lock();
            let held = cell.load(&g);
            // Repeated: widens the window an early free needs to be seen.
            (0..16).for_each(|_| checks.check(held.element));
        }
        t.quiescent_state();
    }
}

fn option_reader(cell: &'static rcu_qsbr::RcuOption<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    let mut t = rcu_qsbr::register_thread();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let g = t.read_lock();
            if let Some(held) = cell.load(&g) {
                (0..16).for_each(|_| checks.check(held.element));
            }
        }
        t.quiescent_state();
    }
}

rcu_testkit::cell_tests!(rcu_qsbr::Qsbr, common::in_read_section, cell_reader, option_reader);

/// An offline registered thread comes online only for `Debug`'s read and
/// is offline again after it (grace periods do not wait for it).
#[test]
fn debug_on_an_offline_thread_leaves_it_offline() {
    let cell = rcu_qsbr::RcuCell::new(String::from("offline"));
    let mut me = rcu_qsbr::register_thread();
    me.offline();
    assert!(format!("{cell:?}").contains("offline"));
    assert!(!me.is_online());
    assert!(<rcu_qsbr::Qsbr as rcu_core::Flavour>::engine().may_block(), "Debug left the thread online");
    std::thread::spawn(rcu_qsbr::synchronize_rcu).join().unwrap();
}
