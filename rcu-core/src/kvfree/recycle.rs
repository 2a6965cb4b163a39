//! After a grace period: a sealed block's objects are dropped, and the
//! empty block goes back to its home slot (its reserve, or its cache of
//! [`CACHED_BLOCKS_PER_THREAD`] blocks) or to the allocator.

use super::state::{Kvfree, CACHED_BLOCKS_PER_THREAD};
use crate::defer::block::{Block, SealReason, SealedBlock};
use crate::defer::deferrals::Deferrals;
use crate::defer::slot::{DeferSlot, SlotBlock};
use crate::gp::sequence::GpSequence;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

impl Kvfree {
    /// Frees the objects of a block whose grace period completed (reclaim
    /// thread), then recycles the block unless `under_pressure()`.
    pub(crate) fn free_block(
        &self,
        sealed: SealedBlock<DeferSlot>,
        gp: &GpSequence,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) {
        let b = sealed.into_raw();
        // SAFETY: rebuilt from the sealed block just taken apart.
        let n = self.drop_objects(unsafe { SealedBlock::from_raw(b) }, gp, flavour);
        // SeqCst: see `Kvfree::backlog`.
        self.counters.objects_freed.fetch_add(n as u64, Ordering::SeqCst);
        // Relaxed: statistics.
        self.counters.blocks_freed.fetch_add(1, Ordering::Relaxed);
        self.recycle(b, under_pressure);
    }

    /// Drops every object of a sealed block whose grace period completed,
    /// owned by the caller (the reclaim thread, or the owner a block was
    /// handed back to); returns how many. The block stays the caller's,
    /// empty, to recycle.
    pub(super) fn drop_objects(&self, sealed: SealedBlock<DeferSlot>, gp: &GpSequence, flavour: &'static str) -> usize {
        debug_assert!(
            gp.poll(sealed.cookie()),
            "rcu_{flavour}: kvfree block freed before its grace period (cookie {:?})",
            sealed.cookie()
        );
        let mut panics = 0;
        // SAFETY: sealed, grace period complete, owned by the caller.
        let n = unsafe { Block::drop_all(sealed.into_raw(), flavour, &mut panics) };
        if panics > 0 {
            // Relaxed: a statistic.
            self.counters.drop_panics.fetch_add(panics, Ordering::Relaxed);
        }
        n
    }

    /// An empty block goes back to its home slot (reserve, or cache if
    /// there is room and memory is not under pressure), or is deallocated.
    pub(super) fn recycle(&self, b: NonNull<SlotBlock>, under_pressure: &dyn Fn() -> bool) {
        // SAFETY: the caller owns the empty block; its home is a slot of a
        // static registry (never freed).
        let (home, is_reserve) = unsafe { (&*b.as_ref().home(), b.as_ref().is_reserve()) };
        if is_reserve {
            // Release pairs with the AcqRel swap in `take_reserve`.
            if home
                .reserve
                .compare_exchange(std::ptr::null_mut(), b.as_ptr(), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        } else if !under_pressure() && home.cache_len.load(Ordering::Relaxed) < CACHED_BLOCKS_PER_THREAD {
            push_cached(home, b);
            return;
        }
        // SAFETY: empty, owned, and not referenced by any list.
        unsafe { Block::dealloc(b) };
    }

    /// Pops an empty block off the slot's cache (owner only).
    pub(super) fn take_cached(&self, slot: &DeferSlot) -> Option<NonNull<SlotBlock>> {
        if crate::fault::cache_fails() {
            return None;
        }
        let _busy = CacheBusy::take(slot);
        loop {
            // Acquire pairs with the Release push in `push_cached`: the
            // block's emptied header is visible.
            let head = NonNull::new(slot.cache.load(Ordering::Acquire))?;
            // SAFETY: cached blocks stay allocated while on the stack; the
            // only other takers (`drop_caches`) are excluded by `cache_busy`,
            // and pushers only add above `head`, so `head` is neither freed
            // nor re-pushed under us (no ABA).
            let next = unsafe { head.as_ref().next() };
            if slot.cache.compare_exchange(head.as_ptr(), next, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                // Relaxed: an estimate, only compared with the cap.
                slot.cache_len.fetch_sub(1, Ordering::Relaxed);
                return Some(head);
            }
        }
    }

    /// Drops every cached block of every slot (memory pressure).
    pub(crate) fn drop_caches(&self, defer: &Deferrals) -> usize {
        let mut n = 0;
        for slot in defer.slots.slots() {
            // Excludes the owner's pop (see `DeferSlot::cache_busy`).
            let _busy = CacheBusy::take(slot);
            // Acquire pairs with the Release pushes in `push_cached`.
            let mut p = slot.cache.swap(std::ptr::null_mut(), Ordering::Acquire);
            while let Some(b) = NonNull::new(p) {
                // SAFETY: taken off the stack above, so ours.
                p = unsafe { b.as_ref().next() };
                // SAFETY: cached blocks are empty and unreferenced.
                unsafe { Block::dealloc(b) };
                // Relaxed: as in `take_cached`.
                slot.cache_len.fetch_sub(1, Ordering::Relaxed);
                n += 1;
            }
        }
        n
    }
    /// Seals `b` if it holds objects (returns true), else recycles it.
    pub(super) fn seal_or_recycle(
        &self,
        gp: &GpSequence,
        b: NonNull<SlotBlock>,
        reason: SealReason,
        under_pressure: &dyn Fn() -> bool,
    ) -> bool {
        // SAFETY: the caller owns `b`.
        if unsafe { b.as_ref().objects() } > 0 {
            self.seal(gp, b, reason);
            true
        } else {
            self.recycle(b, under_pressure);
            false
        }
    }
}

/// Pushes the empty block `b` on `home`'s cache (any thread; pushing is
/// ABA-safe).
fn push_cached(home: &DeferSlot, b: NonNull<SlotBlock>) {
    // Relaxed: an estimate, only compared with the cap.
    home.cache_len.fetch_add(1, Ordering::Relaxed);
    // Release pairs with the Acquire in `take_cached`.
    // SAFETY: the empty block is ours; cached blocks stay allocated while on
    // the stack (`take_cached` and `drop_caches` take them off first).
    unsafe { Block::push_on(&home.cache, b, Ordering::Release) };
}

/// `DeferSlot::cache_busy`, held for the guard's life.
struct CacheBusy<'a>(&'a DeferSlot);

impl<'a> CacheBusy<'a> {
    fn take(slot: &'a DeferSlot) -> Self {
        // Acquire pairs with the Release store in `drop`: the previous
        // holder's stack operations happen before ours.
        while slot.cache_busy.swap(true, Ordering::Acquire) {
            std::hint::spin_loop();
        }
        CacheBusy(slot)
    }
}

impl Drop for CacheBusy<'_> {
    fn drop(&mut self) {
        // Release: see `take`.
        self.0.cache_busy.store(false, Ordering::Release);
    }
}
