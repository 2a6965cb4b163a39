//! The thread-local reader records of memb, mb and QSBR (`urcu_*_reader`,
//! defined in `csrc/urcu_abi.c`), as the Rust side reads and marks them.
//! bp's records are allocated instead (`bp.rs`).

use crate::c_side::{self, Record};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// The calling thread's reader word in `record`.
pub(crate) fn word(record: Record) -> NonNull<AtomicU64> {
    // SAFETY: the accessor returns the calling thread's record.
    let ctr = unsafe { c_side::rcu_capi_ctr(record) };
    NonNull::new(ctr.cast::<AtomicU64>()).expect("a thread-local is never null")
}

/// The calling thread's reader word in `record`, if it is registered.
pub(crate) fn current_word(record: Record) -> Option<NonNull<AtomicU64>> {
    // SAFETY: reads the calling thread's record.
    let registered = unsafe { c_side::rcu_capi_registered(record) } != 0;
    registered.then(|| word(record))
}

/// Whether the calling thread was registered by its first section.
pub(crate) fn is_lazy(record: Record) -> bool {
    // SAFETY: reads the calling thread's record.
    unsafe { c_side::rcu_capi_lazy(record) != 0 }
}

/// Marks the calling thread's record (and its `tid`).
pub(crate) fn mark(record: Record, registered: bool, lazy: bool) {
    // SAFETY: writes the calling thread's record; only its thread does.
    unsafe { c_side::rcu_capi_set_registered(record, registered.into(), lazy.into()) }
}

/// Whether the calling thread's exit destructor has run (it is exiting).
pub(crate) fn is_exiting(record: Record) -> bool {
    // SAFETY: reads the calling thread's record.
    unsafe { c_side::rcu_capi_exiting(record) != 0 }
}

/// Notes that the calling thread's exit destructor has run.
pub(crate) fn mark_exiting(record: Record) {
    // SAFETY: writes the calling thread's record; only its thread does.
    unsafe { c_side::rcu_capi_set_exiting(record) }
}
