//! The C half (`csrc/urcu_abi.c`): the read side liburcu's headers fix, and
//! accessors that reach the C objects through their dynamic symbols.

use std::ffi::{c_int, c_ulong};

/// liburcu's `struct urcu_gp`, as far as Rust reads it (the C side
/// declares the alignment).
pub(crate) type Gp = rcu_core::ForeignGp;

extern "C" {
    pub(crate) fn urcu_memb_read_lock();
    pub(crate) fn urcu_memb_read_unlock();
    pub(crate) fn urcu_memb_read_ongoing() -> c_int;
    pub(crate) fn urcu_qsbr_read_lock();
    pub(crate) fn urcu_qsbr_read_unlock();
    pub(crate) fn urcu_qsbr_read_ongoing() -> c_int;
    pub(crate) fn urcu_qsbr_quiescent_state();
    pub(crate) fn urcu_qsbr_thread_offline();
    pub(crate) fn urcu_qsbr_thread_online();

    pub(crate) fn rcu_capi_memb_gp() -> *mut Gp;
    pub(crate) fn rcu_capi_qsbr_gp() -> *mut Gp;
    pub(crate) fn rcu_capi_memb_ctr() -> *mut c_ulong;
    pub(crate) fn rcu_capi_qsbr_ctr() -> *mut c_ulong;
    pub(crate) fn rcu_capi_qsbr_waiting() -> *mut c_int;
    pub(crate) fn rcu_capi_memb_has_sys_membarrier() -> *mut c_int;
    pub(crate) fn rcu_capi_memb_registered() -> c_int;
    pub(crate) fn rcu_capi_qsbr_registered() -> c_int;
    pub(crate) fn rcu_capi_memb_set_registered(registered: c_int);
    pub(crate) fn rcu_capi_qsbr_set_registered(registered: c_int);
}

const _: () = assert!(std::mem::size_of::<c_ulong>() == 8, "liburcu's counters are 64-bit here");
