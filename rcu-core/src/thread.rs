//! Per-thread state: registration and its thread-exit destructor.
//!
//! The reader fast path reads only the flavour's `const` slot-pointer cell
//! (no destructor, so always accessible). This separate value, with a
//! destructor, exists to release the slot when the thread exits. A thread
//! that reads after its destructors ran (from another thread-local's
//! destructor) gets a *transient* slot that the flavour releases when its
//! outermost read-side section ends; nothing is left claimed by a dead thread.
//!
//! Destructors run in reverse order of registration, so a guard or a QSBR
//! handle stored in another thread-local may outlive this state. Then the
//! slot is not released here (another thread could claim it while the stale
//! guard still writes to it): it is marked transient, and the guard's last
//! unlock or the handle's drop releases it. A guard leaked with `mem::forget`
//! keeps its slot, and stalls grace periods, for good, as documented.
//! At exit the thread's partial kvfree block is sealed and handed to the
//! reclaim thread: an exiting thread strands nothing.

use crate::flavour::Flavour;
use crate::reader::ReaderSlot;
use std::cell::Cell;
use std::marker::PhantomData;

/// A thread-local pointer to the calling thread's deferral slot, or null.
///
/// Flavour crates declare one per slot kind as a `const`-initialised
/// `thread_local!` with no destructor (one `fs:`-relative load on the fast
/// path). Only rcu-core can set it, and only to a slot of the flavour's
/// static registry, so reading it is safe.
pub struct SlotPtr<S: 'static>(Cell<*const S>);

impl<S> SlotPtr<S> {
    /// No slot.
    pub const fn new() -> Self {
        SlotPtr(Cell::new(std::ptr::null()))
    }

    /// The calling thread's slot, if it has one.
    #[inline(always)]
    pub fn get(&self) -> Option<&'static S> {
        // SAFETY: only `set` writes the cell, with a slot of a static
        // registry (never freed); null means none.
        unsafe { self.0.get().as_ref() }
    }

    pub(crate) fn set(&self, slot: &'static S) {
        self.0.set(slot);
    }

    pub(crate) fn take(&self) -> Option<&'static S> {
        // SAFETY: as in `get`.
        unsafe { self.0.replace(std::ptr::null()).as_ref() }
    }
}

impl<S> Default for SlotPtr<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// The stand-in every [`ReaderSlotPtr`] points to while its thread has no
/// slot.
static VACANT_READER: ReaderSlot = ReaderSlot::vacant();

/// A thread-local pointer to the calling thread's reader slot; never null:
/// it points to a vacant stand-in slot while the thread has none, whose
/// word makes `ReaderSlot::memb_enter` fail, so the memb fast path needs no
/// separate "registered?" test (see `reader.rs`).
///
/// Declared by flavour crates as a `const`-initialised `thread_local!` with
/// no destructor. Only rcu-core sets it, to the vacant slot or a slot of the
/// flavour's static registry.
pub struct ReaderSlotPtr(Cell<&'static ReaderSlot>);

impl ReaderSlotPtr {
    /// No slot: the vacant stand-in.
    pub const fn new() -> Self {
        ReaderSlotPtr(Cell::new(&VACANT_READER))
    }

    /// The calling thread's slot, or the vacant stand-in; for
    /// `ReaderSlot::memb_enter`, which fails on the latter.
    #[inline(always)]
    pub fn current(&self) -> &'static ReaderSlot {
        self.0.get()
    }

    /// The calling thread's slot, if it has one.
    #[inline]
    pub fn get(&self) -> Option<&'static ReaderSlot> {
        let slot = self.0.get();
        (!std::ptr::eq(slot, &VACANT_READER)).then_some(slot)
    }

    pub(crate) fn set(&self, slot: &'static ReaderSlot) {
        self.0.set(slot);
    }

    pub(crate) fn take(&self) -> Option<&'static ReaderSlot> {
        let slot = self.0.replace(&VACANT_READER);
        (!std::ptr::eq(slot, &VACANT_READER)).then_some(slot)
    }
}

impl Default for ReaderSlotPtr {
    fn default() -> Self {
        Self::new()
    }
}

/// A thread's registration with flavour `F`; released by its destructor.
pub struct ThreadState<F: Flavour> {
    registered: Cell<bool>,
    kvfree_registered: Cell<bool>,
    /// A registration handle (QSBR's `QsbrThread`) is alive: it releases
    /// the slot itself, possibly later than this destructor runs.
    handle_alive: Cell<bool>,
    _flavour: PhantomData<F>,
}

impl<F: Flavour> ThreadState<F> {
    /// An unregistered thread.
    pub const fn new() -> Self {
        ThreadState {
            registered: Cell::new(false),
            kvfree_registered: Cell::new(false),
            handle_alive: Cell::new(false),
            _flavour: PhantomData,
        }
    }

    pub(crate) fn set_registered(&self, registered: bool) {
        self.registered.set(registered);
    }

    pub(crate) fn set_kvfree_registered(&self) {
        self.kvfree_registered.set(true);
    }

    pub(crate) fn set_handle_alive(&self, alive: bool) {
        self.handle_alive.set(alive);
    }
}

impl<F: Flavour> Default for ThreadState<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Flavour> Drop for ThreadState<F> {
    fn drop(&mut self) {
        if self.kvfree_registered.get() {
            F::engine().kvfree_thread_exit();
        }
        if self.registered.get() {
            F::engine().thread_exit(self.handle_alive.get());
        }
    }
}
