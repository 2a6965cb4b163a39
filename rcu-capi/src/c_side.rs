//! The C half (`csrc/urcu_abi.c`): the read side liburcu's headers fix, and
//! accessors that reach the C objects through their dynamic symbols.

use std::ffi::{c_int, c_ulong};

/// liburcu's `struct urcu_gp`, as far as Rust reads it (the C side
/// declares the alignment). bp's `struct urcu_bp_gp` is its first field
/// only: the futex field falls in that cache-line aligned object's padding,
/// which the polled style never reads (a forked child zeroes it).
pub(crate) type Gp = rcu_core::ForeignGp;

/// Which of the C side's thread-local reader records (its numbering).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Record {
    Memb = 0,
    Mb = 1,
    Qsbr = 2,
}

extern "C" {
    pub(crate) fn urcu_memb_read_lock();
    pub(crate) fn urcu_memb_read_unlock();
    pub(crate) fn urcu_memb_read_ongoing() -> c_int;
    pub(crate) fn urcu_mb_read_lock();
    pub(crate) fn urcu_mb_read_unlock();
    pub(crate) fn urcu_mb_read_ongoing() -> c_int;
    pub(crate) fn urcu_bp_read_lock();
    pub(crate) fn urcu_bp_read_unlock();
    pub(crate) fn urcu_bp_read_ongoing() -> c_int;
    pub(crate) fn urcu_qsbr_read_lock();
    pub(crate) fn urcu_qsbr_read_unlock();
    pub(crate) fn urcu_qsbr_read_ongoing() -> c_int;
    pub(crate) fn urcu_qsbr_quiescent_state();
    pub(crate) fn urcu_qsbr_thread_offline();
    pub(crate) fn urcu_qsbr_thread_online();

    pub(crate) fn rcu_capi_memb_gp() -> *mut Gp;
    pub(crate) fn rcu_capi_mb_gp() -> *mut Gp;
    pub(crate) fn rcu_capi_qsbr_gp() -> *mut Gp;
    pub(crate) fn rcu_capi_bp_gp() -> *mut Gp;
    pub(crate) fn rcu_capi_memb_has_sys_membarrier() -> *mut c_int;
    pub(crate) fn rcu_capi_bp_has_sys_membarrier() -> *mut c_int;

    pub(crate) fn rcu_capi_ctr(record: Record) -> *mut c_ulong;
    pub(crate) fn rcu_capi_qsbr_waiting() -> *mut c_int;
    pub(crate) fn rcu_capi_registered(record: Record) -> c_int;
    pub(crate) fn rcu_capi_lazy(record: Record) -> c_int;
    pub(crate) fn rcu_capi_set_registered(record: Record, registered: c_int, lazy: c_int);
    pub(crate) fn rcu_capi_exiting(record: Record) -> c_int;
    pub(crate) fn rcu_capi_set_exiting(record: Record);

    /// bp: the calling thread's record (NULL: not registered).
    pub(crate) fn rcu_capi_bp_record() -> *mut c_ulong;
    /// bp: a zeroed record from the mmap arena (NULL when out of memory);
    /// the caller blocks signals.
    pub(crate) fn rcu_capi_bp_new_record() -> *mut c_ulong;
    pub(crate) fn rcu_capi_bp_free_record(record: *mut c_ulong);
    pub(crate) fn rcu_capi_bp_set_record(record: *mut c_ulong);
}

const _: () = assert!(std::mem::size_of::<c_ulong>() == 8, "liburcu's counters are 64-bit here");
