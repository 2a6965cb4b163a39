//! The writer side: the domain's index, the check of one rank (the
//! kernel's `srcu_readers_active_idx_check`) and the steps of one grace
//! period. How to wait between checks is the caller's (`readers.rs` spins,
//! then sleeps; the loom model yields).

use super::slot::SrcuSlot;
use crate::sync::atomic::{AtomicU64, Ordering};

/// The domain's index: readers enter on rank `idx & 1`; a grace period
/// flips it once. Written only by the thread running a grace period.
#[derive(Debug)]
pub struct SrcuIndex {
    idx: AtomicU64,
}

impl SrcuIndex {
    /// Rank 0 current, no grace period run.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        SrcuIndex { idx: AtomicU64::new(0) }
    }

    /// Rank 0 current, no grace period run.
    #[cfg(loom)]
    pub fn new() -> Self {
        SrcuIndex { idx: AtomicU64::new(0) }
    }

    /// The rank a reader entering now uses.
    #[inline(always)]
    pub fn current(&self) -> usize {
        // Relaxed: any value is safe for a reader (module docs of `srcu`:
        // a reader the writer's check misses loads after its heavy
        // barrier, whichever rank it entered on).
        (self.idx.load(Ordering::Relaxed) & 1) as usize
    }
}

impl Default for SrcuIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// `(locks, unlocks)` of `rank` summed over `slots`, without barriers:
/// a hint, or a diagnostic (open sections are about `locks - unlocks`).
pub fn rank_sums<'s>(slots: impl Iterator<Item = &'s SrcuSlot>, rank: usize) -> (u64, u64) {
    slots.fold((0u64, 0u64), |(l, u), s| (l.wrapping_add(s.locks(rank)), u.wrapping_add(s.unlocks(rank))))
}

/// Whether every section of `rank` that can hold a pointer unpublished
/// before the call has ended: the unlocks summed, the heavy barrier, the
/// locks summed, equal (module docs of `srcu`). `slots()` must yield every
/// slot a reader of the domain may have used, each once per call.
pub fn rank_balanced<'s, I>(slots: impl Fn() -> I, rank: usize) -> bool
where
    I: Iterator<Item = &'s SrcuSlot>,
{
    let unlocks = slots().fold(0u64, |a, s| a.wrapping_add(s.unlocks(rank)));
    // Pairs with the light barrier before each unlock increment (an unlock
    // seen above has its section's loads, and its lock increment, ordered
    // before the lock loads below and the caller's frees) and with the
    // light barrier after each lock increment (a lock not seen below
    // belongs to a section whose loads see the caller's unpublish).
    crate::sys::heavy_barrier();
    let locks = slots().fold(0u64, |a, s| a.wrapping_add(s.locks(rank)));
    locks == unlocks
}

/// Runs one grace period on `index`: waits for the rank readers are not
/// entering now, flips the index between two heavy barriers, waits for the
/// rank they were entering. `wait_balanced(rank)` returns once
/// [`rank_balanced`] has returned true for `rank`.
///
/// # Safety
///
/// The caller is `index`'s only writer (it runs the domain's grace
/// periods one at a time).
pub unsafe fn run_grace_period(index: &SrcuIndex, wait_balanced: impl FnMut(usize)) {
    // SAFETY: forwarded contract.
    unsafe { run_steps(index, [true, true], wait_balanced) }
}

/// [`run_grace_period`] with either wait left out, for the loom model's
/// proof that it finds the bug each wait prevents.
///
/// # Safety
///
/// As [`run_grace_period`].
#[cfg(loom)]
pub unsafe fn run_grace_period_without(index: &SrcuIndex, skip_wait: usize, wait_balanced: impl FnMut(usize)) {
    let mut waits = [true, true];
    waits[skip_wait] = false;
    // SAFETY: forwarded contract.
    unsafe { run_steps(index, waits, wait_balanced) }
}

/// The steps of a grace period; `waits[n]`: whether wait `n` runs.
///
/// # Safety
///
/// As [`run_grace_period`].
unsafe fn run_steps(index: &SrcuIndex, waits: [bool; 2], mut wait_balanced: impl FnMut(usize)) {
    // Relaxed: the caller is the only writer.
    let idx = index.idx.load(Ordering::Relaxed);
    let current = (idx & 1) as usize;
    if waits[0] {
        // Readers that read the index before the previous flip and entered
        // the other rank after that grace period's check.
        wait_balanced(current ^ 1);
    }
    // Orders the first wait's loads before the flip, as the kernel's
    // smp_mb() before the index update does.
    crate::sys::heavy_barrier();
    // Relaxed: single writer; readers' ordering comes from the barriers.
    index.idx.store(idx.wrapping_add(1), Ordering::Relaxed);
    // Makes the flip visible before the second wait's sums, so that new
    // readers move to the other rank and the waited one drains.
    crate::sys::heavy_barrier();
    if waits[1] {
        wait_balanced(current);
    }
}
