//! The loom model's futex: the two calls the grace-period sequence makes
//! (`GpSequence::wait_for`'s sleep, `resign`'s wake), emulated with one
//! mutex and condition variable per model execution, so a lost wake-up is
//! a deadlock the model reports.
//!
//! The check of the word and the sleep happen under the mutex, and a wake
//! takes the mutex after the waker's store to the word (as the real
//! callers store before they wake): a waiter either reads the new value or
//! is asleep before the wake's notification. Like the kernel's, a wake-up
//! may be spurious (every sleeper is woken); the callers re-check.

use crate::sync::atomic::{AtomicU32, Ordering};
use loom::sync::{Condvar, Mutex};

loom::lazy_static! {
    static ref FUTEX: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
}

/// Blocks while `*word == expected` (or until a spurious wake-up). The
/// model has no clock: `timeout` must be `None`.
pub fn futex_wait_u32(word: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) {
    assert!(timeout.is_none(), "the loom futex has no timeout");
    let guard = FUTEX.0.lock().unwrap();
    // Relaxed: the kernel's comparison is a plain load; the mutex orders it
    // after a waker's store that precedes the wake (see the module docs).
    if word.load(Ordering::Relaxed) == expected {
        drop(FUTEX.1.wait(guard).unwrap());
    }
}

/// Wakes every thread blocked in [`futex_wait_u32`] (any word: a wake-up
/// may be spurious). `n` is ignored.
pub fn futex_wake<W>(_word: &W, _n: i32) {
    let _guard = FUTEX.0.lock().unwrap();
    FUTEX.1.notify_all();
}
