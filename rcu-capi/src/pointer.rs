//! liburcu's out-of-line pointer helpers (`urcu/pointer.h`'s `_sym`
//! functions), exported by every flavour library.

use std::ffi::c_void;
use std::sync::atomic::{compiler_fence, AtomicPtr, Ordering};

/// `rcu_dereference_sym`: returns `p`. The load was the caller's; a
/// compiler barrier keeps the dependent loads after it (dependency order).
#[no_mangle]
pub extern "C" fn rcu_dereference_sym(p: *mut c_void) -> *mut c_void {
    compiler_fence(Ordering::SeqCst);
    p
}

/// `rcu_set_pointer_sym`: publishes `v` in `*p`; returns `v`.
///
/// # Safety
///
/// `p` points to a pointer-sized, aligned word that others access
/// atomically.
#[no_mangle]
pub unsafe extern "C" fn rcu_set_pointer_sym(p: *mut *mut c_void, v: *mut c_void) -> *mut c_void {
    // SAFETY: per the contract.
    let word = unsafe { AtomicPtr::from_ptr(p) };
    // Release: the initialisation of `*v` before its publication; pairs
    // with the readers' dependent loads after `rcu_dereference`.
    word.store(v, Ordering::Release);
    v
}

/// `rcu_xchg_pointer_sym`: publishes `v`; returns the previous value.
///
/// # Safety
///
/// As [`rcu_set_pointer_sym`].
#[no_mangle]
pub unsafe extern "C" fn rcu_xchg_pointer_sym(p: *mut *mut c_void, v: *mut c_void) -> *mut c_void {
    // SAFETY: per the contract.
    let word = unsafe { AtomicPtr::from_ptr(p) };
    // SeqCst: liburcu's uatomic_xchg is a full barrier (callers rely on it
    // ordering later loads too); Release alone would publish `*v`.
    word.swap(v, Ordering::SeqCst)
}

/// `rcu_cmpxchg_pointer_sym`: publishes `new` if `*p == old`; returns the
/// value found.
///
/// # Safety
///
/// As [`rcu_set_pointer_sym`].
#[no_mangle]
pub unsafe extern "C" fn rcu_cmpxchg_pointer_sym(
    p: *mut *mut c_void,
    old: *mut c_void,
    new: *mut c_void,
) -> *mut c_void {
    // SAFETY: per the contract.
    let word = unsafe { AtomicPtr::from_ptr(p) };
    // SeqCst both ways: liburcu's uatomic_cmpxchg is a full barrier.
    match word.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(v) | Err(v) => v,
    }
}

/// liburcu-bp exports the pointer helpers under its own prefix too.
macro_rules! bp_alias {
    ($alias:ident, $target:ident, ($($arg:ident: $ty:ty),*)) => {
        #[doc = concat!("`", stringify!($alias), "`: [`", stringify!($target), "`] under liburcu-bp's name.")]
        #[doc = ""]
        #[doc = "# Safety"]
        #[doc = ""]
        #[doc = concat!("As [`", stringify!($target), "`].")]
        #[no_mangle]
        pub unsafe extern "C" fn $alias($($arg: $ty),*) -> *mut c_void {
            // SAFETY: forwarded contract.
            #[allow(unused_unsafe)]
            unsafe { $target($($arg),*) }
        }
    };
}

bp_alias!(urcu_bp_dereference_sym, rcu_dereference_sym, (p: *mut c_void));
bp_alias!(urcu_bp_set_pointer_sym, rcu_set_pointer_sym, (p: *mut *mut c_void, v: *mut c_void));
bp_alias!(urcu_bp_xchg_pointer_sym, rcu_xchg_pointer_sym, (p: *mut *mut c_void, v: *mut c_void));
bp_alias!(urcu_bp_cmpxchg_pointer_sym, rcu_cmpxchg_pointer_sym, (p: *mut *mut c_void, old: *mut c_void, new: *mut c_void));
