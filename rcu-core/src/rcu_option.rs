//! `RcuOption<T>`: an RCU-protected owning pointer that may be empty (a
//! null pointer), for values that come and go: `load` gives `Option<&T>`,
//! `store` and `take` retire the value they replace after a grace period.

use crate::cell::Retired;
use crate::flavour::{Flavour, ReadSection};
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// An RCU-protected, optional owning pointer to a `T`, for flavour `F`.
/// Empty by default. Flavour crates export it as `RcuOption<T>`.
pub struct RcuOption<T: Send + Sync + 'static, F: Flavour> {
    /// Null, or a valid `Box<T>` pointer. Published with `Release`, read
    /// with `Acquire`, as in `RcuCell`.
    ptr: AtomicPtr<T>,
    _owns: PhantomData<(Option<Box<T>>, F)>,
}

// SAFETY: as `RcuCell`: it owns a `T` (`Send`), shares `&T` with readers on
// any thread (`Sync`), and drops replaced values on another thread (`Send`).
unsafe impl<T: Send + Sync + 'static, F: Flavour> Send for RcuOption<T, F> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync + 'static, F: Flavour> Sync for RcuOption<T, F> {}

impl<T: Send + Sync + 'static, F: Flavour> RcuOption<T, F> {
    /// An empty cell.
    pub const fn empty() -> Self {
        RcuOption { ptr: AtomicPtr::new(ptr::null_mut()), _owns: PhantomData }
    }

    /// A cell holding `value`.
    pub fn new(value: Option<T>) -> Self {
        RcuOption { ptr: AtomicPtr::new(into_raw(value)), _owns: PhantomData }
    }

    /// The current value, if any, valid while `guard` (a read-side section
    /// of `F`) and the borrow of the cell last. Never blocks.
    #[inline]
    pub fn load<'a, G: ReadSection<F>>(&'a self, _guard: &'a G) -> Option<&'a T> {
        // Acquire pairs with the Release swap in `swap`.
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: null or a published box, freed only after a grace period
        // that starts after it was unpublished (`swap`), which the guard's
        // section holds off, or when the cell is dropped (not while borrowed).
        unsafe { p.as_ref() }
    }

    /// Whether the cell is empty now (a snapshot; it may change at once).
    pub fn is_none(&self) -> bool {
        // Relaxed: only the null test is used, nothing is dereferenced.
        self.ptr.load(Ordering::Relaxed).is_null()
    }

    /// Publishes `value` (or empties the cell) and retires the old value, if
    /// any, through `kvfree_rcu`: dropped after a grace period, on this
    /// thread later or on the reclaim thread (see `RcuCell`, "Where old
    /// values are dropped"). Never waits for a grace period.
    pub fn store(&self, value: Option<T>) {
        drop(self.swap(value));
    }

    /// Empties the cell and hands the old value back as a [`Retired`] (never
    /// dropped before a grace period). Never waits for a grace period.
    pub fn take(&self) -> Option<Retired<T, F>> {
        self.swap(None)
    }

    /// Publishes `value` (or empties the cell) and hands the old value back
    /// as a [`Retired`]. Never waits for a grace period.
    pub fn swap(&self, value: Option<T>) -> Option<Retired<T, F>> {
        // AcqRel: Release publishes the new value (pairs with `load`'s
        // Acquire); Acquire sees the old value's contents, which this thread
        // hands on.
        let old = self.ptr.swap(into_raw(value), Ordering::AcqRel);
        // SAFETY: null or a `Box::into_raw` pointer no longer reachable from
        // the cell; `Retired` never frees it before a grace period.
        (!old.is_null()).then(|| Retired::new(unsafe { Box::from_raw(old) }))
    }

    /// Mutable access: no reader can hold a borrow while `&mut self` exists.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        // SAFETY: `&mut self` excludes readers and writers; the pointer is
        // null or a uniquely owned box.
        unsafe { self.ptr.get_mut().as_mut() }
    }

    /// Consumes the cell and returns its value (no grace period needed:
    /// owning the cell means no reader holds a borrow of it).
    pub fn into_inner(self) -> Option<T> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: ownership moves out; `Drop` will not run (ManuallyDrop).
        unsafe { from_raw(*this.ptr.get_mut()) }
    }
}

fn into_raw<T>(value: Option<T>) -> *mut T {
    value.map_or(ptr::null_mut(), |v| Box::into_raw(Box::new(v)))
}

/// # Safety
///
/// `p` is null or a `Box::into_raw` pointer that the caller owns.
unsafe fn from_raw<T>(p: *mut T) -> Option<T> {
    // SAFETY: per the contract.
    (!p.is_null()).then(|| *unsafe { Box::from_raw(p) })
}

impl<T: Send + Sync + 'static, F: Flavour> Default for RcuOption<T, F> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T: Send + Sync + 'static, F: Flavour> From<Option<T>> for RcuOption<T, F> {
    fn from(value: Option<T>) -> Self {
        Self::new(value)
    }
}

impl<T: Send + Sync + 'static, F: Flavour> Drop for RcuOption<T, F> {
    fn drop(&mut self) {
        // SAFETY: dropping the cell means no borrow of it is alive, so no
        // reader holds the current value.
        drop(unsafe { from_raw(*self.ptr.get_mut()) });
    }
}

/// Prints the current value (or `None`), read under a read-side section of
/// its own, as `RcuCell`'s `Debug` does. Never blocks.
impl<T: Send + Sync + std::fmt::Debug + 'static, F: Flavour> std::fmt::Debug for RcuOption<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::own_section::with_own_section::<F, _>(|section| {
            f.debug_struct("RcuOption").field("flavour", &F::NAME).field("value", &self.load(section)).finish()
        })
    }
}
