//! Misuse through the C ABI: a message naming the call and the fix, then
//! `abort()` (a Rust panic must never unwind into C).

use std::ffi::{c_char, CStr};

/// Prints `rcu-capi: {message}` and aborts.
#[cold]
pub(crate) fn die(message: &str) -> ! {
    eprintln!("rcu-capi: {message}");
    std::process::abort()
}

/// Called by the C read side (`csrc/urcu_abi.c`) when an unregistered
/// thread enters a read-side critical section: liburcu would leave it
/// unprotected, silently.
///
/// # Safety
///
/// `what` is a NUL-terminated string (the function's name).
#[no_mangle]
pub unsafe extern "C" fn rcu_capi_unregistered_reader(what: *const c_char) -> ! {
    // SAFETY: per the contract.
    let what = unsafe { CStr::from_ptr(what) }.to_string_lossy();
    die(&format!(
        "{what}() called by a thread that is not registered: grace periods would not wait for it. \
         Call urcu_memb_register_thread() (rcu_register_thread()) in the thread first"
    ))
}

/// Runs `f`, aborting with a message if it panics (an engine assertion):
/// every `extern "C"` entry point that reaches the engine goes through it.
#[inline]
pub(crate) fn no_unwind<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => die(&format!("{what}: the engine panicked (message above); aborting rather than unwind into C")),
    }
}
