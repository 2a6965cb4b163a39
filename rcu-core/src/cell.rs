//! `RcuCell<T>`: an RCU-protected owning pointer.
//!
//! Readers borrow the current value for the life of their read-side guard
//! (and of their borrow of the cell); a writer swaps in a new value and the
//! old one is retired so that it is dropped only after a grace period.

use crate::flavour::{Flavour, ReadSection};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

/// An RCU-protected owning pointer to a `T`, for flavour `F`.
///
/// Flavour crates export it as `RcuCell<T>` with their flavour filled in.
pub struct RcuCell<T: Send + Sync + 'static, F: Flavour> {
    /// Always a valid `Box<T>` pointer. Published with `Release` (`replace`),
    /// read with `Acquire` (`load`).
    ptr: AtomicPtr<T>,
    _owns: PhantomData<(Box<T>, F)>,
}

// SAFETY: the cell owns a `T` (needs `T: Send` to move across threads) and
// hands out `&T` to readers on any thread (needs `T: Sync`); old values are
// dropped on the reclaim path of another thread (covered by `T: Send`).
unsafe impl<T: Send + Sync + 'static, F: Flavour> Send for RcuCell<T, F> {}
// SAFETY: as above; `replace` through `&self` moves values between threads
// (`Send`) and `load` shares them (`Sync`).
unsafe impl<T: Send + Sync + 'static, F: Flavour> Sync for RcuCell<T, F> {}

impl<T: Send + Sync + 'static, F: Flavour> RcuCell<T, F> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        Self::from_box(Box::new(value))
    }

    /// A cell holding the boxed value (no reallocation).
    pub fn from_box(value: Box<T>) -> Self {
        RcuCell { ptr: AtomicPtr::new(Box::into_raw(value)), _owns: PhantomData }
    }

    /// The current value, valid while `guard` (a read-side section of `F`)
    /// and the borrow of the cell last. Never blocks.
    #[inline]
    pub fn load<'a, G: ReadSection<F>>(&'a self, _guard: &'a G) -> &'a T {
        // Acquire pairs with the Release swap in `replace_box`: the reader
        // sees the value's initialisation.
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: `p` came from `Box::into_raw` and is only freed after a
        // grace period that starts after it was unpublished (`replace_box`),
        // or when the cell is dropped (impossible while `self` is borrowed).
        // The guard proves this thread is in a read-side section, which that
        // grace period waits for.
        unsafe { &*p }
    }

    /// Publishes `value` and retires the old value (dropped after a grace
    /// period). See [`RcuCell::replace_box`].
    pub fn replace(&self, value: T) {
        self.replace_box(Box::new(value));
    }

    /// Publishes `value` and retires the old value through `kvfree_rcu`:
    /// it is dropped only after a grace period, so readers that loaded it
    /// keep a valid reference. Never waits for a grace period (callable
    /// inside a read-side section), except on the kvfree emergency path.
    pub fn replace_box(&self, value: Box<T>) {
        // Release publishes the new value's initialisation (pairs with the
        // Acquire load in `load`); Acquire makes the old value's contents
        // visible to this thread, which will drop it.
        let old = self.ptr.swap(Box::into_raw(value), Ordering::AcqRel);
        // SAFETY: `old` came from `Box::into_raw` and is no longer reachable
        // from the cell; kvfree_rcu drops it only after a grace period that
        // starts after this unpublish, which outlasts every reader that
        // could have loaded it.
        let old = unsafe { Box::from_raw(old) };
        F::engine().kvfree(old);
    }

    /// Mutable access: no reader can hold a borrow while `&mut self` exists.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes readers (their borrows of the cell)
        // and writers; the pointer is a valid, uniquely owned box.
        unsafe { &mut *self.ptr.load(Ordering::Relaxed) }
    }

    /// Consumes the cell and returns its value.
    pub fn into_inner(self) -> T {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: ownership moves out; `Drop` will not run (ManuallyDrop).
        *unsafe { Box::from_raw(this.ptr.load(Ordering::Relaxed)) }
    }
}

impl<T: Send + Sync + 'static, F: Flavour> Drop for RcuCell<T, F> {
    fn drop(&mut self) {
        // SAFETY: dropping the cell means no borrow of it is alive, so no
        // reader holds the current value (`load` ties it to `&self`).
        drop(unsafe { Box::from_raw(*self.ptr.get_mut()) });
    }
}

impl<T: Send + Sync + std::fmt::Debug + 'static, F: Flavour> std::fmt::Debug for RcuCell<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RcuCell").field("flavour", &F::NAME).finish_non_exhaustive()
    }
}
