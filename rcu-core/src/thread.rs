//! Per-thread state: registration and its thread-exit destructor.
//!
//! The reader fast path reads only the flavour's `const` slot-pointer cell
//! (no destructor, so always accessible). This separate value, with a
//! destructor, exists to release the slot when the thread exits. A thread
//! that reads after its destructors ran (from another thread-local's
//! destructor) gets a *transient* slot that the flavour releases when its
//! outermost read-side section ends; nothing is left claimed by a dead thread.

use crate::flavour::Flavour;
use std::cell::Cell;
use std::marker::PhantomData;

/// A thread's registration with flavour `F`; released by its destructor.
pub struct ThreadState<F: Flavour> {
    registered: Cell<bool>,
    _flavour: PhantomData<F>,
}

impl<F: Flavour> ThreadState<F> {
    /// An unregistered thread.
    pub const fn new() -> Self {
        ThreadState { registered: Cell::new(false), _flavour: PhantomData }
    }

    pub(crate) fn set_registered(&self, registered: bool) {
        self.registered.set(registered);
    }
}

impl<F: Flavour> Default for ThreadState<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Flavour> Drop for ThreadState<F> {
    fn drop(&mut self) {
        if self.registered.get() {
            F::engine().release_current_slot();
        }
    }
}
