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
    let guard = rcu_memb::read_lock();
    entered.wait();
    // SeqCst: a stop flag; nothing is published through it.
    while !release.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(guard);
}

/// Runs `f` inside a read-side section.
pub fn in_read_section(f: &mut dyn FnMut()) {
    let _guard = rcu_memb::read_lock();
    f();
}

/// Reads `cell` until `stop`, checking every value it reaches.
pub fn cell_reader(cell: &'static rcu_memb::RcuCell<Held>, checks: &'static ReaderChecks, stop: &'static AtomicBool) {
    // Relaxed: a stop flag; nothing is published through it.
    while !stop.load(Ordering::Relaxed) {
        let g = rcu_memb::read_lock();
        checks.check(cell.load(&g).element);
    }
}
