//! The read side of every suite, written once over [`RcuFlavour`].
//!
//! A reader registers, enters sections with `F::read_lock` and announces a
//! quiescent state after every batch of sections (`F::quiescent_state`, a
//! no-op where sections end with their guard). Code that keeps this QSBR
//! discipline holds grace periods up exactly while its sections last, on
//! every flavour, so no suite needs a read side written per flavour.

use crate::kvfree::Held;
use crate::ReaderChecks;
use rcu_core::{RcuCell, RcuFlavour, RcuOption};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::Duration;

/// Sections between two quiescent states of a reader loop: a QSBR reader
/// that announced one per section would spend its time announcing.
pub const SECTIONS_PER_QUIESCENT_STATE: usize = 64;

/// Enters a read-side section on the calling thread, waits at `entered`,
/// stays inside until `release` is set, then leaves and unregisters.
pub fn hold<F: RcuFlavour>(entered: &Barrier, release: &AtomicBool) {
    let thread = F::register_thread();
    let guard = F::read_lock(&thread);
    entered.wait();
    // SeqCst: a stop flag; nothing is published through it.
    while !release.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(guard);
    F::unregister_thread(thread);
}

/// Runs `f` inside a read-side section of the calling thread, which must
/// not be a registered QSBR thread already. There the thread may not block
/// for a grace period.
///
/// The handle is dropped, not unregistered: a QSBR handle unregisters when
/// dropped, and a memb thread stays registered, with its per-thread state
/// (kvfree reserve, callback list), as any memb reader does until it exits.
pub fn in_read_section<F: RcuFlavour>(f: &mut dyn FnMut()) {
    let thread = F::register_thread();
    let guard = F::read_lock(&thread);
    f();
    drop(guard);
    drop(thread);
}

/// Runs `section` in one read-side section after another until `stop` is
/// set, announcing a quiescent state after every
/// [`SECTIONS_PER_QUIESCENT_STATE`] sections.
pub fn read_until<F: RcuFlavour>(stop: &AtomicBool, mut section: impl for<'t> FnMut(&F::Guard<'t>)) {
    let mut thread = F::register_thread();
    // Relaxed: a stop flag; nothing is published through it.
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..SECTIONS_PER_QUIESCENT_STATE {
            let guard = F::read_lock(&thread);
            section(&guard);
        }
        F::quiescent_state(&mut thread);
    }
    F::unregister_thread(thread);
}

/// Reads `cell` until `stop`, checking the value it reaches `repeat` times
/// per section (repeating widens the window an early free needs to be seen).
pub fn read_cell<F: RcuFlavour>(cell: &RcuCell<Held, F>, checks: &ReaderChecks, stop: &AtomicBool, repeat: usize) {
    read_until::<F>(stop, |guard| {
        let held = cell.load(guard);
        (0..repeat).for_each(|_| checks.check(held.element));
    });
}

/// Reads `cell` until `stop`, checking the value, when there is one,
/// `repeat` times per section.
pub fn read_option<F: RcuFlavour>(cell: &RcuOption<Held, F>, checks: &ReaderChecks, stop: &AtomicBool, repeat: usize) {
    read_until::<F>(stop, |guard| {
        if let Some(held) = cell.load(guard) {
            (0..repeat).for_each(|_| checks.check(held.element));
        }
    });
}
