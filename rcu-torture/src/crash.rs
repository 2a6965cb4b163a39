//! A failure line for a run that dies of a signal.
//!
//! Some failures never return to the torture code: the engine aborts (its
//! kvfree reserve exhausted, an internal error on the reclaim thread), Rust
//! aborts (a stack overflow, an allocation failure), or a use-after-free
//! faults. While a run is armed, a handler for SIGABRT, SIGSEGV and SIGBUS
//! writes `FAIL [flavour=… path=… seed=…] the process died of <signal>` to
//! stderr, naming the path the writer was in, then lets the signal take its
//! course: the previous disposition is restored before the handler returns,
//! so `abort` re-raises into it and a fault re-executes into it (Rust's own
//! SIGSEGV handler, which reports stack overflows, still runs).
//!
//! The handler is async-signal-safe: it only loads atomics, reads strings
//! built before the run started, and calls `write` and `sigaction`.

use crate::board::{Board, IDLE};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Once, OnceLock};

/// What the handler writes, prepared while the run starts.
struct Armed {
    /// `FAIL [flavour=memb path=`
    prefix: String,
    /// `` seed=7] the process died of ``
    middle: String,
    board: &'static Board,
}

/// The armed run, or null.
static ARMED: AtomicPtr<Armed> = AtomicPtr::new(std::ptr::null_mut());

/// The signals handled.
const SIGNALS: [libc::c_int; 3] = [libc::SIGABRT, libc::SIGSEGV, libc::SIGBUS];
/// Their dispositions before the first `arm` (set once, before the handler
/// is installed; read by the handler).
static PREVIOUS: OnceLock<[Option<libc::sigaction>; 3]> = OnceLock::new();
static INSTALL: Once = Once::new();

/// Arms the handler for `board`'s run (replacing an earlier run's label).
/// The label is leaked: a handler may still be reading the previous one.
pub fn arm(board: &'static Board) {
    let label = board.label;
    let armed = Box::leak(Box::new(Armed {
        prefix: format!("\nFAIL [flavour={} path=", label.flavour),
        middle: format!(" seed={}] the process died of ", label.seed),
        board,
    }));
    // Release pairs with the Acquire load in `on_signal`: the strings are
    // complete before a handler can see the pointer.
    ARMED.store(armed, Ordering::Release);
    INSTALL.call_once(install);
}

/// Disarms the handler (it stays installed; with nothing armed it only
/// restores the previous disposition and returns, letting the signal take
/// its usual course).
pub fn disarm() {
    // Relaxed: no data is published by clearing.
    ARMED.store(std::ptr::null_mut(), Ordering::Relaxed);
}

fn install() {
    let mut ours = [None; 3];
    let mut previous = [None; 3];
    for (i, &sig) in SIGNALS.iter().enumerate() {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
        // value; `old` is an out-parameter the kernel fills.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_signal;
            action.sa_sigaction = handler as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 {
                previous[i] = Some(old);
                ours[i] = Some(action);
            }
        }
    }
    // The previous dispositions are recorded before the handler can run.
    let _ = PREVIOUS.set(previous);
    for (i, &sig) in SIGNALS.iter().enumerate() {
        if let Some(action) = ours[i].as_ref() {
            // SAFETY: installs a handler with the SA_SIGINFO signature.
            unsafe { libc::sigaction(sig, action, std::ptr::null_mut()) };
        }
    }
}

fn write_stderr(bytes: &[u8]) {
    // SAFETY: writes from a valid buffer; write(2) is async-signal-safe.
    // A short or failed write loses part of a diagnostic, nothing else.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

extern "C" fn on_signal(sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Acquire pairs with the Release swap in `arm`.
    let armed = ARMED.swap(std::ptr::null_mut(), Ordering::Acquire);
    // SAFETY: a non-null pointer is a leaked `Armed`, never freed.
    if let Some(armed) = unsafe { armed.as_ref() } {
        let path = match armed.board.progress.writer_path.load(Ordering::Relaxed) {
            IDLE => "-",
            p => armed.board.path_name(Some(p)),
        };
        let name: &[u8] = match sig {
            libc::SIGABRT => b"SIGABRT",
            libc::SIGSEGV => b"SIGSEGV",
            _ => b"SIGBUS",
        };
        write_stderr(armed.prefix.as_bytes());
        write_stderr(path.as_bytes());
        write_stderr(armed.middle.as_bytes());
        write_stderr(name);
        write_stderr(b" (the path is the one the writer was in; the cause is printed above)\n");
    }
    let i = SIGNALS.iter().position(|&s| s == sig);
    // `get` is one atomic load: PREVIOUS was set before the handler was
    // installed.
    if let Some(old) = i.and_then(|i| PREVIOUS.get().and_then(|p| p[i].as_ref())) {
        // SAFETY: restores a disposition read from the kernel; sigaction is
        // async-signal-safe.
        unsafe { libc::sigaction(sig, old, std::ptr::null_mut()) };
    }
}
