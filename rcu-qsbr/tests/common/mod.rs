//! What rcu-testkit's suites need of this flavour, written once for every
//! test file here: how a thread is inside a read-side section.
// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use rcu_testkit::kvfree::Held;
use rcu_testkit::ReaderChecks;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

/// Enters a read-side section, waits at `entered`, stays inside until
/// `release` is set, then leaves (rcu-testkit's `polling::Hold`).
pub fn hold(entered: &Barrier, release: &AtomicBool) {
    let thread = rcu_qsbr::register_thread();
    entered.wait();
    // SeqCst: a stop flag; nothing is published through it.
    while !release.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(thread);
}

/// Runs `f` inside a read-side section.
pub fn in_read_section(f: &mut dyn FnMut()) {
    let _online = rcu_qsbr::register_thread();
    f();
}

/// Reads `cell` until `stop`, checking every value it reaches.
pub fn cell_reader(cell: &'static rcu_qsbr::RcuCell<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    // Relaxed: a stop flag; nothing is published through it.
    let mut t = rcu_qsbr::register_thread();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let g = t.read_lock();
            checks.check(cell.load(&g).element);
        }
        t.quiescent_state();
    }
}
