//! The bp ("bulletproof") flavour's C ABI (liburcu's `liburcu-bp.so`): a
//! thread's first section registers it (`urcu_bp_register`, which liburcu's
//! inline read side calls too) and it stays registered until it exits; its
//! reader record is allocated, and `urcu_bp_reader` points to it. Readers
//! pay a compiler barrier when `urcu_bp_has_sys_membarrier` says the writer
//! uses membarrier, a fence otherwise; they never wake a sleeping writer,
//! which polls instead; its registry is held with signals blocked, since
//! first sections run in signal handlers too ([`ForeignStyle::bulletproof`]).

use crate::c_side;
use crate::flavour::{in_phase_flip_section, reader_record, CFlavour, ExitKey};
use rcu_core::sys::SignalsBlocked;
use rcu_core::{ForeignGp, ForeignReaders, ForeignStyle, Protocol};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

fn gp() -> &'static ForeignGp {
    // SAFETY: the C object (or the executable's copy of it) lives for the
    // whole process. `struct urcu_bp_gp` is a counter in a cache-line
    // aligned object; `ForeignGp`'s futex field falls in its padding,
    // which the polled style never reads (a forked child only zeroes it).
    unsafe { &*c_side::rcu_capi_bp_gp() }
}

static READERS: ForeignReaders =
    ForeignReaders::with_style(gp, crate::flavour::current_word::<Bp>, ForeignStyle::bulletproof());
static EXIT_KEY: ExitKey = ExitKey::new();

rcu_core::define_flavour!(
    Bp,
    "urcu_bp",
    Protocol::PhaseFlip,
    "The C ABI's bp flavour (its engine serves `urcu_bp_*`).",
    foreign = Some(&READERS)
);

/// The calling thread's record, if registered (its first field is `ctr`).
fn record() -> Option<NonNull<AtomicU64>> {
    // SAFETY: reads the calling thread's pointer.
    NonNull::new(unsafe { c_side::rcu_capi_bp_record() }.cast::<AtomicU64>())
}

impl CFlavour for Bp {
    const PREFIX: &'static str = "urcu_bp";
    const UNREGISTER_IS_NO_OP: bool = true;

    fn exit_key() -> &'static ExitKey {
        &EXIT_KEY
    }

    fn current_word() -> Option<NonNull<AtomicU64>> {
        record()
    }

    /// Every bp registration is one the thread's sections may have made:
    /// `urcu_bp_register_thread` on a registered thread is not a misuse.
    fn is_lazy() -> bool {
        true
    }

    fn add_record(_lazy: bool) -> bool {
        // Blocked until the thread's pointer is set: a handler's section in
        // between would register a second record (liburcu-bp blocks too).
        let _signals = SignalsBlocked::new();
        if record().is_some() {
            return true;
        }
        // SAFETY: allocates a zeroed record (inactive) or returns NULL.
        let Some(new) = NonNull::new(unsafe { c_side::rcu_capi_bp_new_record() }.cast::<AtomicU64>()) else {
            return false;
        };
        // SAFETY: the record stays allocated until `remove_record` has
        // taken it out of the registry.
        unsafe { READERS.register(reader_record(new, None)) };
        // SAFETY: the calling thread's pointer; the record is registered, so
        // the sections it now enables are waited for.
        unsafe { c_side::rcu_capi_bp_set_record(new.as_ptr().cast()) };
        true
    }

    fn make_explicit() {}

    fn remove_record() {
        // Blocked: a handler's section between the unregistration and the
        // cleared pointer would use a record grace periods no longer see.
        let _signals = SignalsBlocked::new();
        let Some(old) = record() else { return };
        READERS.unregister(old);
        // SAFETY: out of the registry (no scan reads it any more) and the
        // thread's pointer is cleared before the record is freed.
        unsafe {
            c_side::rcu_capi_bp_set_record(std::ptr::null_mut());
            c_side::rcu_capi_bp_free_record(old.as_ptr().cast());
        }
    }

    fn in_own_section() -> bool {
        in_phase_flip_section(record())
    }
}

/// `urcu_bp_register`: registers the calling thread if it is not yet (the
/// inline and function read sides call it on a thread's first section,
/// which may be in a signal handler: signals stay blocked, and the record
/// comes from an mmap arena, not malloc). Aborts with a message if no
/// record can be had, as liburcu-bp does.
#[no_mangle]
pub extern "C" fn urcu_bp_register() {
    let _signals = SignalsBlocked::new();
    if record().is_none() {
        crate::flavour::register_thread::<Bp>();
    }
}

/// `urcu_bp_before_fork`: nothing to do; the engine's own `pthread_atfork`
/// handlers keep its locks consistent across `fork()`.
#[no_mangle]
pub extern "C" fn urcu_bp_before_fork() {}

/// `urcu_bp_after_fork_parent`: nothing to do (see `urcu_bp_before_fork`).
#[no_mangle]
pub extern "C" fn urcu_bp_after_fork_parent() {}

/// `urcu_bp_after_fork_child`: nothing to do; the child's registry holds
/// only the forking thread (the engine's fork handler pruned the others,
/// whose records the child does not free: their threads are gone, and a
/// record is a few hundred bytes).
#[no_mangle]
pub extern "C" fn urcu_bp_after_fork_child() {}
