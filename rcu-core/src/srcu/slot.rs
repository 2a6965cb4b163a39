//! One thread's srcu counters for one domain: `lock[rank]` and
//! `unlock[rank]`, written only by the slot's owner thread (a plain load
//! and store, no read-modify-write), read by the grace-period writer.
//!
//! A slot outlives its owner: a thread that exits releases it with its
//! counts, and a later thread that claims it continues them, so the sums a
//! writer takes over all slots stay right (see `srcu/mod.rs`).

use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The counters of one thread for one srcu domain.
#[derive(Debug)]
pub struct SrcuSlot {
    /// Sections entered on rank 0 and 1 by this slot's owners.
    lock: [AtomicU64; 2],
    /// Sections left on rank 0 and 1 by this slot's owners (whoever
    /// entered them).
    unlock: [AtomicU64; 2],
    /// Of `unlock`, the sections other slots' owners entered (written by
    /// the owner only, on the cold path).
    closed_for_others: AtomicU64,
    /// Sections entered with this slot and left on another thread (any
    /// thread adds, atomically: the cold path).
    closed_elsewhere: AtomicU64,
    /// The kernel thread id of the slot's latest owner, for stall warnings.
    tid: AtomicU64,
    /// The owner thread's token (`local::thread_token`) while a thread
    /// holds the slot through its thread-locals; 0 otherwise. Lets an
    /// unlock tell "my own slot" without looking its slot up.
    owner_token: AtomicU64,
    /// Claimed by a thread (or retired: see `SrcuRegistry::release`).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) in_use: AtomicBool,
}

/// Adds one to a counter only the calling thread writes.
///
/// # Safety
///
/// The caller is the counter's only writer while it runs.
#[inline(always)]
unsafe fn owner_add(counter: &AtomicU64, delta: u64) {
    // Relaxed load and store: the single writer reads its own last value;
    // the writer's sums order themselves with the barriers around them
    // (`srcu/mod.rs`), and ownership changes hands through `in_use`
    // (Release on release, Acquire on claim).
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(delta), Ordering::Relaxed);
}

impl SrcuSlot {
    /// A slot with zero counts, claimed (`in_use`) when `claimed`.
    #[cfg(not(loom))]
    pub const fn new(claimed: bool) -> Self {
        SrcuSlot {
            lock: [AtomicU64::new(0), AtomicU64::new(0)],
            unlock: [AtomicU64::new(0), AtomicU64::new(0)],
            closed_for_others: AtomicU64::new(0),
            closed_elsewhere: AtomicU64::new(0),
            tid: AtomicU64::new(0),
            owner_token: AtomicU64::new(0),
            in_use: AtomicBool::new(claimed),
        }
    }

    /// A slot with zero counts, claimed (`in_use`) when `claimed`.
    #[cfg(loom)]
    pub fn new(claimed: bool) -> Self {
        SrcuSlot {
            lock: [AtomicU64::new(0), AtomicU64::new(0)],
            unlock: [AtomicU64::new(0), AtomicU64::new(0)],
            closed_for_others: AtomicU64::new(0),
            closed_elsewhere: AtomicU64::new(0),
            tid: AtomicU64::new(0),
            owner_token: AtomicU64::new(0),
            in_use: AtomicBool::new(claimed),
        }
    }

    /// Enters a section on `rank`: `lock[rank] += 1`, then the light
    /// barrier, which orders the increment before the section's loads
    /// (pairs with the heavy barrier inside the writer's rank check).
    ///
    /// # Safety
    ///
    /// The calling thread owns the slot; `rank` is 0 or 1.
    #[inline(always)]
    pub unsafe fn enter(&self, rank: usize) {
        // SAFETY: the caller owns the slot: its only writer.
        unsafe { owner_add(&self.lock[rank & 1], 1) };
        crate::sys::light_barrier();
    }

    /// Leaves a section on `rank` that this slot's owner entered: the light
    /// barrier, which orders the section's loads before the increment
    /// (pairs with the heavy barrier inside the writer's rank check), then
    /// `unlock[rank] += 1`.
    ///
    /// # Safety
    ///
    /// The calling thread owns the slot and entered the section with it.
    #[inline(always)]
    pub unsafe fn exit_own(&self, rank: usize) {
        crate::sys::light_barrier();
        // SAFETY: the caller owns the slot: its only writer.
        unsafe { owner_add(&self.unlock[rank & 1], 1) };
    }

    /// Leaves a section on `rank` that `opener` entered, from this slot's
    /// owner thread (a guard sent to another thread): as [`Self::exit_own`],
    /// and the opener's count of open sections goes down.
    ///
    /// # Safety
    ///
    /// The calling thread owns this slot; the section was entered on `rank`.
    #[inline]
    pub unsafe fn exit_for(&self, opener: &SrcuSlot, rank: usize) {
        crate::sys::light_barrier();
        // SAFETY: the caller owns this slot: its only writer.
        unsafe {
            owner_add(&self.unlock[rank & 1], 1);
            owner_add(&self.closed_for_others, 1);
        }
        // Relaxed: a count for the misuse check on the opener's thread; a
        // drop that happens-before that thread's check (the guard's hand
        // back, a join) is seen by it through that happens-before edge.
        opener.closed_elsewhere.fetch_add(1, Ordering::Relaxed);
    }

    /// Sections entered with this slot and not yet left, on any thread:
    /// its locks, minus its unlocks of its own sections (all its unlocks
    /// but those for other slots' sections), minus its sections left
    /// elsewhere. Exact when called by the owner; off the fast path.
    pub fn open_sections(&self) -> u64 {
        // Relaxed: the owner's own counters, and the atomic count of
        // others' drops that happened-before the call (see `exit_for`).
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let locks = load(&self.lock[0]).wrapping_add(load(&self.lock[1]));
        let unlocks = load(&self.unlock[0]).wrapping_add(load(&self.unlock[1]));
        let own_unlocks = unlocks.wrapping_sub(load(&self.closed_for_others));
        locks.wrapping_sub(own_unlocks).wrapping_sub(load(&self.closed_elsewhere))
    }

    /// In a forked child, for the slot of a thread that does not exist
    /// there: its open sections can never end, so they are counted ended
    /// (each rank balanced, no section open), and the slot is free.
    pub(crate) fn forget_after_fork_child(&self) {
        // Relaxed: the child is single-threaded here.
        for rank in 0..2 {
            self.unlock[rank].store(self.lock[rank].load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.closed_for_others.store(0, Ordering::Relaxed);
        self.closed_elsewhere.store(0, Ordering::Relaxed);
        self.owner_token.store(0, Ordering::Relaxed);
        self.in_use.store(false, Ordering::Relaxed);
    }

    /// Records the owner thread's token (after a claim through the
    /// thread-locals), or clears it (0, at release).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn set_owner_token(&self, token: u64) {
        // Relaxed: only the owner writes its own token here, and only
        // `is_owned_by(its token)` on that same thread acts on it: by
        // coherence a thread reads back its own latest store (set at claim,
        // 0 at release), and no other thread ever stores that value while
        // this thread lives (tokens of live threads differ).
        self.owner_token.store(token, Ordering::Relaxed);
    }

    /// Whether the thread whose token is `token` owns the slot now.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn is_owned_by(&self, token: u64) -> bool {
        // Relaxed: as in `set_owner_token`; a stale value of another
        // thread's token (or 0) never equals the caller's.
        self.owner_token.load(Ordering::Relaxed) == token
    }

    /// Records the owner's kernel thread id (after a claim).
    pub(crate) fn set_owner_tid(&self, tid: u64) {
        // Relaxed: a diagnostic, read by stall warnings only.
        self.tid.store(tid, Ordering::Relaxed);
    }

    /// The latest owner's kernel thread id (0: never recorded).
    pub(crate) fn owner_tid(&self) -> u64 {
        // Relaxed: as in `set_owner_tid`.
        self.tid.load(Ordering::Relaxed)
    }

    /// `lock[rank]`, for the writer's sums.
    #[inline]
    pub(crate) fn locks(&self, rank: usize) -> u64 {
        // Relaxed: ordered by the heavy barrier of the rank check.
        self.lock[rank & 1].load(Ordering::Relaxed)
    }

    /// `unlock[rank]`, for the writer's sums.
    #[inline]
    pub(crate) fn unlocks(&self, rank: usize) -> u64 {
        // Relaxed: ordered by the heavy barrier of the rank check.
        self.unlock[rank & 1].load(Ordering::Relaxed)
    }
}
