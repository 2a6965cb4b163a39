//! The futex calls the engine sleeps and wakes with: private futexes for
//! its own words, and the *shared* (non-private) operations for a word that
//! code outside this crate waits on or wakes with plain `FUTEX_WAIT` /
//! `FUTEX_WAKE` (liburcu's inline readers, `gp/foreign.rs`): the kernel keys
//! the two kinds differently, so a private wait never sees a shared wake.

use crate::sync::atomic::{AtomicI32, AtomicU32};

/// Blocks while `*word == expected` (or until a spurious wake-up).
pub fn futex_wait(word: &AtomicI32, expected: i32) {
    futex_wait_timeout(word, expected, None);
}

/// [`futex_wait`], returning after `timeout` at the latest (`None`: no limit).
pub fn futex_wait_timeout(word: &AtomicI32, expected: i32, timeout: Option<std::time::Duration>) {
    // The kernel compares the 32 bits at the address: the sign is irrelevant.
    wait_on(word.as_ptr().cast(), expected as u32, timeout, libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG);
}

/// [`futex_wait_timeout`] with the shared operation (see the module docs).
pub fn futex_wait_shared(word: &AtomicI32, expected: i32, timeout: Option<std::time::Duration>) {
    wait_on(word.as_ptr().cast(), expected as u32, timeout, libc::FUTEX_WAIT);
}

/// [`futex_wake`] with the shared operation (see the module docs).
pub fn futex_wake_shared(word: &AtomicI32, n: i32) {
    let word: *const AtomicI32 = word;
    // SAFETY: FUTEX_WAKE does not dereference the word; it only keys the
    // wait queue by its address.
    unsafe {
        libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE, n);
    }
}

/// Blocks while `*word == expected`, for at most `timeout` if given.
pub fn futex_wait_u32(word: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) {
    wait_on(word.as_ptr(), expected, timeout, libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG);
}

/// Wakes up to `n` threads blocked in [`futex_wait`] or [`futex_wait_u32`]
/// on `word` (an `AtomicI32` or `AtomicU32`; only its address is used).
pub fn futex_wake<W>(word: &W, n: i32) {
    let word: *const W = word;
    // SAFETY: FUTEX_WAKE does not dereference the word; it only keys the
    // wait queue by its address.
    unsafe {
        libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, n);
    }
}

/// `op` (a FUTEX_WAIT, private or shared) on the 32-bit word at `word`.
fn wait_on(word: *mut u32, expected: u32, timeout: Option<std::time::Duration>, op: libc::c_int) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` points to a live, aligned 32-bit atomic (the callers'
    // references) for the duration of the call; FUTEX_WAIT only reads it.
    // `ts_ptr` is null (no timeout) or points to a timespec on this stack
    // frame, alive during the call.
    unsafe {
        libc::syscall(libc::SYS_futex, word, op, expected, ts_ptr);
    }
}
