//! The thread-local pointers to a thread's slots, read on fast paths.
//!
//! Flavour crates declare them as `const`-initialised `thread_local!`s with
//! no destructor, so a read is one `fs:`-relative load and works even while
//! the thread's destructors run. Only rcu-core sets them, and only to slots
//! of static registries (never freed).

use super::ReaderSlot;
use std::cell::Cell;

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
/// separate "registered?" test (see `slot.rs`).
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
