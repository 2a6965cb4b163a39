//! The owner's side: appending an object to the thread's open block, the
//! emergency path when no block can be had, and thread exit.

use super::state::Kvfree;
use crate::defer::block::{Block, DropFn, SealReason, BLOCK_BYTES, MAX_ARITY};
use crate::defer::slot::{owner_section, DeferSlot, SlotBlock};
use crate::gp::sequence::GpSequence;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// What an append did beyond storing the object, for the engine to act on
/// after the append's bracket: nothing on the common path.
#[must_use]
#[derive(Debug)]
pub(crate) struct AfterAppend {
    /// A full block (or the returned reserve) was sealed: wake the reclaim
    /// thread, and wait for reclaim if the backlog is past the hard limit.
    pub(crate) sealed: bool,
    /// The open block got its first object: the drain timer must be armed.
    pub(crate) dirtied: bool,
    /// No block could be had: synchronize, then drop this entry inline.
    pub(crate) drop_after_gp: Option<(DropFn, [usize; MAX_ARITY])>,
}

impl AfterAppend {
    const DONE: AfterAppend = AfterAppend { sealed: false, dirtied: false, drop_after_gp: None };

    /// Nothing to do.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        !self.sealed && !self.dirtied && self.drop_after_gp.is_none()
    }
}

impl Kvfree {
    /// Appends one object for the calling thread's slot `slot`. `may_block`
    /// says whether the caller may wait for a grace period (asked on the
    /// slow path only); `flavour` names it in the out-of-memory message.
    /// `pin`: the entry must run on the reclaim thread (a C ABI call), so
    /// its block is never handed back to its owner.
    #[inline]
    pub(crate) fn append(
        &self,
        slot: &'static DeferSlot,
        gp: &GpSequence,
        may_block: impl Fn() -> bool,
        flavour: &'static str,
        entry: (DropFn, &[usize], usize),
        pin: bool,
    ) -> AfterAppend {
        let (drop, words, held) = entry;
        owner_section(slot, || {
            // Relaxed: a non-null value was stored by this thread.
            let b = slot.hot.block.load(Ordering::Relaxed);
            match NonNull::new(b) {
                // SAFETY: the open block is ours while `seq` is odd (a
                // stealer that swapped it out waits for our even `seq`
                // before using it). The first object of a block goes
                // through the slow path, which marks the slot dirty for the
                // drain timer. So does every object while the reserve is
                // the open block, so that it is handed back as soon as the
                // caller may block again.
                Some(b)
                    if unsafe {
                        b.as_ref().objects() > 0 && !b.as_ref().is_reserve() && Block::append(b, drop, words, held)
                    } =>
                {
                    if pin {
                        // SAFETY: as above (a stealer reads the header only
                        // after our even `seq`).
                        unsafe { Block::pin(b) };
                    }
                    AfterAppend::DONE
                }
                _ => self.append_slow(slot, gp, &may_block, flavour, (drop, words, held), pin),
            }
        })
    }

    #[cold]
    #[inline(never)]
    fn append_slow(
        &self,
        slot: &'static DeferSlot,
        gp: &GpSequence,
        may_block: &dyn Fn() -> bool,
        flavour: &'static str,
        (drop, entry, held): (DropFn, &[usize], usize),
        pin: bool,
    ) -> AfterAppend {
        let mut after = AfterAppend::DONE;
        // Relaxed: a non-null value was stored by this thread.
        if let Some(b) = NonNull::new(slot.hot.block.load(Ordering::Relaxed)) {
            // SAFETY: ours while `seq` is odd (see `append`).
            let reserve_done = unsafe { b.as_ref().is_reserve() } && may_block();
            // SAFETY: as above.
            if !reserve_done && unsafe { Block::append(b, drop, entry, held) } {
                if pin {
                    // SAFETY: as above.
                    unsafe { Block::pin(b) };
                }
                after.dirtied = mark_dirty(slot, b);
                return after;
            }
            // Full, or the reserve in use while the caller may block again
            // (emergency over: hand the reserve back through a grace period).
            // A stealer may have taken it meanwhile (then it seals it).
            // AcqRel: pairs with the stealer's swap.
            if let Some(old) = NonNull::new(slot.hot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
                slot.dirty_since.store(0, Ordering::Relaxed);
                let reason = if reserve_done { SealReason::ReserveReturn } else { SealReason::Full };
                self.seal(gp, old, reason);
                after.sealed = true;
            }
        }
        let fresh = self
            .take_cached(slot)
            .or_else(|| Block::try_new(BLOCK_BYTES, slot, false))
            .or_else(|| self.take_reserve(slot, may_block));
        let Some(fresh) = fresh else {
            after.drop_after_gp = Some(self.no_block(may_block, flavour, drop, entry));
            return after;
        };
        // SAFETY: a fresh or cached block is empty and ours.
        let stored = unsafe { Block::append(fresh, drop, entry, held) };
        debug_assert!(stored, "an empty block takes any single object");
        if pin {
            // SAFETY: as above, not yet published.
            unsafe { Block::pin(fresh) };
        }
        // Release: a timer stealer reads the block's (immutable) reserve
        // flag after an Acquire load of this pointer; the block's entries are
        // published to stealers by the `seq` protocol (see `defer/slot.rs`).
        slot.hot.block.store(fresh.as_ptr(), Ordering::Release);
        after.dirtied = mark_dirty(slot, fresh);
        after
    }

    /// No cached, fresh or reserve block: emergency branches 1 (returns the
    /// entry, to drop after a grace period) and 3 (aborts).
    #[cold]
    fn no_block(
        &self,
        may_block: &dyn Fn() -> bool,
        flavour: &'static str,
        drop: DropFn,
        entry: &[usize],
    ) -> (DropFn, [usize; MAX_ARITY]) {
        if may_block() {
            // Relaxed: a statistic.
            self.counters.emergency_synchronize.fetch_add(1, Ordering::Relaxed);
            let mut words = [0usize; MAX_ARITY];
            words[..entry.len()].copy_from_slice(entry);
            return (drop, words);
        }
        // Written to the stderr file descriptor directly (not `eprintln!`,
        // which a test harness may capture in memory and lose at abort).
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "rcu_{flavour}: kvfree_rcu: memory allocation of a {BLOCK_BYTES}-byte block failed, the calling \
             thread may not block for a grace period (it is inside a read-side section or an online \
             QSBR thread) and its emergency reserve is exhausted"
        );
        std::process::abort();
    }

    /// Emergency branch 2: the reserve becomes the open block.
    fn take_reserve(&self, slot: &DeferSlot, may_block: &dyn Fn() -> bool) -> Option<NonNull<SlotBlock>> {
        if may_block() {
            return None; // branch 1 (synchronize) is preferred when allowed
        }
        // AcqRel: pairs with the Release store of a freed reserve in `recycle`.
        let r = NonNull::new(slot.reserve.swap(std::ptr::null_mut(), Ordering::AcqRel))?;
        // Relaxed: a statistic.
        self.counters.emergency_reserve.fetch_add(1, Ordering::Relaxed);
        Some(r)
    }

    /// The owner leaves: seals its open block (returns whether it did).
    /// The caller handed its callback list over first and releases the
    /// slot after; the cache and reserve stay with the slot.
    pub(crate) fn owner_exit(&self, slot: &DeferSlot, gp: &GpSequence, under_pressure: impl Fn() -> bool) -> bool {
        // AcqRel: pairs with a concurrent stealer's swap.
        match NonNull::new(slot.hot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
            Some(b) => {
                slot.dirty_since.store(0, Ordering::Relaxed);
                self.seal_or_recycle(gp, b, SealReason::ThreadExit, &under_pressure)
            }
            None => false,
        }
    }
}

/// Marks the slot dirty when `b` just received its first object; returns
/// whether it did (the drain timer must then be armed). An emergency
/// reserve does not arm the timer (the drain timer leaves it alone, see
/// the module docs).
#[inline]
fn mark_dirty(slot: &DeferSlot, b: NonNull<SlotBlock>) -> bool {
    // SAFETY: ours while `seq` is odd.
    let first = unsafe { b.as_ref().objects() == 1 && !b.as_ref().is_reserve() };
    if first {
        // SeqCst: see `Kvfree::earliest_dirty`; the wake that follows the
        // report loads `sleeping` after it.
        slot.dirty_since.store(crate::sys::monotonic_ns().max(1), Ordering::SeqCst);
    }
    first
}
