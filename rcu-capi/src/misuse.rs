//! Misuse through the C ABI: a message naming the call and the fix, then
//! `abort()` where liburcu would deadlock or corrupt memory (a Rust panic
//! must never unwind into C); a message only, once, where liburcu runs on.
//! `RCU_CAPI_STRICT=1` makes every such case abort (a debugging aid).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The environment variable that turns the lenient cases into aborts.
pub const STRICT_ENV: &str = "RCU_CAPI_STRICT";

/// Whether `RCU_CAPI_STRICT` is set to something other than `0` or empty
/// (read once, at the first misuse or at library load).
pub fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os(STRICT_ENV).is_some_and(|v| !v.is_empty() && v != "0"))
}

/// Prints `rcu-capi: {message}` and aborts.
#[cold]
pub(crate) fn die(message: &str) -> ! {
    eprintln!("rcu-capi: {message}");
    std::process::abort()
}

/// Prints `rcu-capi: {message}` the first time any lenient misuse happens
/// in the process (liburcu warns once, too).
#[cold]
pub(crate) fn warn_once(message: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    // Relaxed: only decides whether to print; nothing is published with it.
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!("rcu-capi: {message} (printed once; RCU_CAPI_STRICT=1 aborts instead)");
    }
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
