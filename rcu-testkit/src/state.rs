//! The side table of object states every early-free check here uses: an
//! object is `LIVE`, then `RETIRED` (unpublished, handed to RCU), then
//! `FREED` (its destructor ran); a reader inside a read-side section that
//! finds `FREED` has caught an early free. With a [`Census`] of objects
//! created and dropped. Used by [`Arena`](crate::Arena) and by the array
//! views of the `descriptor-table` crate (examples/descriptor-table).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// State: published or about to be.
pub const LIVE: u8 = 1;
/// State: unpublished and handed to RCU, not yet reclaimed.
pub const RETIRED: u8 = 2;
/// State: reclaimed (its destructor ran).
pub const FREED: u8 = 3;

/// One object's state; its memory must outlive every reader that checks it.
#[derive(Debug, Default)]
pub struct ObjectState(AtomicU8);

impl ObjectState {
    /// An object in `state`.
    pub const fn new(state: u8) -> Self {
        ObjectState(AtomicU8::new(state))
    }

    /// The state (`Acquire`: pairs with the `Release` store of
    /// [`ObjectState::mark_freed`], so a reader that sees `FREED` sees it
    /// after the drop that set it).
    #[inline]
    pub fn get(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }

    /// The state, for a reader that orders the load itself (an Acquire
    /// fence after it pairs with `mark_freed`).
    #[inline]
    pub fn get_relaxed(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    /// Marks the object live (before it is published).
    pub fn mark_live(&self) {
        // Relaxed: published with the object itself (its Release publish).
        self.0.store(LIVE, Ordering::Relaxed);
    }

    /// Marks the object retired (when unpublishing it).
    pub fn mark_retired(&self) {
        // Relaxed: a diagnostic for readers; only `FREED` is checked.
        self.0.store(RETIRED, Ordering::Relaxed);
    }

    /// Marks the object freed (from its destructor, after its grace period).
    pub fn mark_freed(&self) {
        // Release pairs with the Acquire in `get` (or the reader's fence).
        self.0.store(FREED, Ordering::Release);
    }
}

/// Objects created and dropped.
#[derive(Debug, Default)]
pub struct Census {
    created: AtomicU64,
    dropped: AtomicU64,
}

impl Census {
    /// Nothing counted yet.
    pub const fn new() -> Self {
        Census { created: AtomicU64::new(0), dropped: AtomicU64::new(0) }
    }

    /// Counts one object created.
    pub fn count_created(&self) {
        // Relaxed: a count read after the run (or by the creating thread).
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one object dropped (from its destructor, maybe on a reclaim
    /// thread).
    pub fn count_dropped(&self) {
        // Release pairs with the Acquire load in `dropped`.
        self.dropped.fetch_add(1, Ordering::Release);
    }

    /// Objects created so far.
    pub fn created(&self) -> u64 {
        // Relaxed: see `count_created`.
        self.created.load(Ordering::Relaxed)
    }

    /// Objects dropped so far (Acquire: pairs with `count_dropped`, so the
    /// drops counted happen before the caller's next step).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Acquire)
    }

    /// Created and not yet dropped. Dropped is read first: a drop counted
    /// after the `created` load cannot make the result wrap.
    pub fn alive(&self) -> u64 {
        let dropped = self.dropped();
        self.created().saturating_sub(dropped)
    }
}
