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
///
/// # Where old values are dropped
///
/// `replace`, `replace_box`, `update`, `compare_exchange` (and a dropped
/// [`Retired`]) retire the old value through `kvfree_rcu`: after a grace
/// period its `Drop` runs either on the thread that retired it, at one of
/// that thread's later retirements (so its memory returns to the allocator
/// cache it came from), or on the flavour's reclaim thread.
/// `set_kvfree_drop_on_caller(false)` keeps it on the reclaim thread.
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
    /// The old value's `Drop` may run on this thread later (see "Where old
    /// values are dropped").
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

    /// arc-swap's `rcu`: builds a new value from the current one with `f`
    /// and publishes it if the cell still holds that value, retrying with
    /// the newer value otherwise. A losing attempt's value is dropped at
    /// once (no reader ever saw it); the replaced value is retired through
    /// `kvfree_rcu` and dropped after a grace period (on this thread later,
    /// or on the reclaim thread: "Where old values are dropped"). Returns the replaced
    /// value, valid while `guard` lasts. Never waits for a grace period, so
    /// it works inside a read-side section (`guard` is one); `f` may run
    /// more than once under contention.
    pub fn update<'a, G: ReadSection<F>>(&'a self, guard: &'a G, mut f: impl FnMut(&T) -> T) -> &'a T {
        let _ = guard;
        // Acquire pairs with the Release of the publishing swap or exchange.
        let mut current = self.ptr.load(Ordering::Acquire);
        loop {
            // SAFETY: `current` was published and `guard` keeps it from
            // being freed (as in `load`); it cannot be freed and reused
            // while we hold it, so the pointer comparison below has no ABA.
            let new = Box::into_raw(Box::new(f(unsafe { &*current })));
            // AcqRel on success: Release publishes the new value (pairs with
            // `load`'s Acquire), Acquire sees the old value's contents before
            // it is handed to kvfree_rcu. Acquire on failure: `actual` is
            // read like a `load`.
            match self.ptr.compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(old) => {
                    // SAFETY: `old` is no longer reachable from the cell and
                    // was a `Box::into_raw` pointer; kvfree_rcu drops it only
                    // after a grace period that outlasts every reader that
                    // loaded it, including this thread's `guard`.
                    F::engine().kvfree(unsafe { Box::from_raw(old) });
                    // SAFETY: retired, not freed: `guard` holds it off.
                    return unsafe { &*old };
                }
                Err(actual) => {
                    // SAFETY: `new` was never published: only this thread
                    // has seen it.
                    drop(unsafe { Box::from_raw(new) });
                    current = actual;
                }
            }
        }
    }

    /// Publishes `new` if the cell holds `current` (compared by address: a
    /// reference from [`RcuCell::load`]), retiring `current` as `replace`
    /// does (its `Drop` may run on this thread later); otherwise hands
    /// `new` back. Never waits for a grace period.
    /// While the guard that loaded `current` lives, its address cannot be
    /// reused, so a match means the cell did not change in between.
    pub fn compare_exchange(&self, current: &T, new: T) -> Result<(), T> {
        let new = Box::into_raw(Box::new(new));
        let expected = current as *const T as *mut T;
        // AcqRel on success / Acquire on failure: as in `update`.
        match self.ptr.compare_exchange(expected, new, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: as in `update`: `old` is unpublished and retired
            // through kvfree_rcu, dropped after a grace period.
            Ok(old) => {
                F::engine().kvfree(unsafe { Box::from_raw(old) });
                Ok(())
            }
            // SAFETY: `new` was never published.
            Err(_) => Err(*unsafe { Box::from_raw(new) }),
        }
    }

    /// Publishes `new` and hands the old value back wrapped in a
    /// [`Retired`], which readers may still be reading: it can be read, but
    /// not dropped or taken before a grace period (dropping it retires it
    /// through `kvfree_rcu`). Never waits for a grace period.
    pub fn swap(&self, new: T) -> Retired<T, F> {
        // AcqRel: as in `replace_box`.
        let old = self.ptr.swap(Box::into_raw(Box::new(new)), Ordering::AcqRel);
        // SAFETY: `old` came from `Box::into_raw` and is no longer reachable
        // from the cell; `Retired` never frees it before a grace period.
        Retired::new(unsafe { Box::from_raw(old) })
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

impl<T: Send + Sync + Default + 'static, F: Flavour> Default for RcuCell<T, F> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: Send + Sync + 'static, F: Flavour> From<T> for RcuCell<T, F> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

/// A value unpublished from an RCU cell that readers may still hold. It
/// derefs to the value (shared reads are safe alongside readers), and is
/// never dropped before a grace period: dropping the `Retired` retires the
/// value through `kvfree_rcu` (its `Drop` then runs on the dropping thread
/// later or on the reclaim thread, as [`RcuCell`]'s old values), and
/// [`into_inner_after_grace_period`](Retired::into_inner_after_grace_period)
/// waits for one first.
pub struct Retired<T: Send + Sync + 'static, F: Flavour> {
    /// Always `Some` until `into_inner_after_grace_period` or `drop`.
    value: Option<Box<T>>,
    _flavour: PhantomData<F>,
}

impl<T: Send + Sync + 'static, F: Flavour> Retired<T, F> {
    pub(crate) fn new(value: Box<T>) -> Self {
        Retired { value: Some(value), _flavour: PhantomData }
    }

    /// Waits for a grace period, then hands the value over: no reader can
    /// hold it any more. Blocks, so it panics where that would deadlock
    /// (inside the caller's own read-side section, or on an online QSBR
    /// thread), with a message naming the fix, as `synchronize_rcu` does.
    #[track_caller]
    pub fn into_inner_after_grace_period(mut self) -> Box<T> {
        F::engine().assert_may_block("Retired::into_inner_after_grace_period()");
        F::engine().synchronize();
        self.value.take().expect("a Retired holds its value until consumed")
    }
}

impl<T: Send + Sync + 'static, F: Flavour> std::ops::Deref for Retired<T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("a Retired holds its value until consumed")
    }
}

impl<T: Send + Sync + 'static, F: Flavour> Drop for Retired<T, F> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            F::engine().kvfree(value);
        }
    }
}

impl<T: Send + Sync + std::fmt::Debug + 'static, F: Flavour> std::fmt::Debug for Retired<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Retired").field(&**self).finish()
    }
}

impl<T: Send + Sync + 'static, F: Flavour> Drop for RcuCell<T, F> {
    fn drop(&mut self) {
        // SAFETY: dropping the cell means no borrow of it is alive, so no
        // reader holds the current value (`load` ties it to `&self`).
        drop(unsafe { Box::from_raw(*self.ptr.get_mut()) });
    }
}

/// Prints the current value, read under a read-side section of its own
/// (any thread: registered or not, QSBR online or offline; see
/// `own_section`). Never blocks.
impl<T: Send + Sync + std::fmt::Debug + 'static, F: Flavour> std::fmt::Debug for RcuCell<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::own_section::with_own_section::<F, _>(|section| {
            f.debug_struct("RcuCell").field("flavour", &F::NAME).field("value", self.load(section)).finish()
        })
    }
}
