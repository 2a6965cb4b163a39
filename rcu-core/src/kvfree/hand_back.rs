//! Freeing where the memory lives: ready blocks go back to the thread that
//! filled them, which drops a few of their objects on each of its
//! `kvfree_rcu` calls (issue 30).
//!
//! An object allocated on a producer and freed on the reclaim thread never
//! returns to the producer's allocator cache, and both threads contend on
//! the allocator. Freeing a whole block at once on the producer does not
//! help much either: hundreds of frees overflow the allocator's per-thread
//! cache (glibc's tcache holds 7 chunks of a size), and the next
//! allocations come back the slow way. So the reclaim thread keeps doing
//! what needs it (taking sealed blocks, waiting for their grace period, in
//! cookie order) but, once a block's grace period has completed, it pushes
//! the block on its home slot's `ready` stack. The owner moves that stack
//! to its `draining` list at its next seal (a moment it already pays for),
//! and then every `kvfree_rcu` call drops one object of the first block
//! (two while it is behind, at most [`OWN_FREE_PER_CALL`]): one free per
//! allocation, as a plain allocate-and-drop loop does.
//!
//! # Ownership
//!
//! `ready` is a stack of whole blocks that only the reclaim thread pushes
//! and that either side takes whole with one swap: pushing is ABA-safe and nothing pops a
//! single block, so whoever swaps a block off owns it alone. Every block on
//! it is sealed and past its grace period: the reclaim thread saw
//! `poll(cookie)` (an Acquire load pairing with the grace period's
//! completion) before its Release push, and the taker's Acquire swap pairs
//! with that push, so the readers' last accesses happen before the drops.
//!
//! `draining` belongs to the owner between its `drain_seq` brackets (the
//! append's `seq` protocol, `defer/slot.rs`): the owner stores it only
//! inside a bracket, and the reclaim thread takes the list with a swap, a
//! heavy barrier, then waits for an even `drain_seq`. Either the owner's
//! load in its bracket saw null, or its step (drops included) happens
//! before the reclaim thread reads the first block's drop cursor and goes
//! on from there. The owner unlinks a block it emptied with a
//! compare-exchange inside the bracket, so an emptied block has one owner
//! too: the owner if the exchange won, the reclaim thread if its swap did.
//!
//! # What stays on the reclaim thread
//!
//! * blocks holding a C ABI `call_rcu`/`defer_rcu` entry (`pinned`: liburcu
//!   runs those on its call_rcu thread), emergency reserves, and blocks of
//!   slots with no owner;
//! * everything, when the engine's switch says destructors stay off user
//!   threads ([`Kvfree::set_drop_on_caller`]);
//! * a slot's hand-backs past [`READY_LIMIT`] blocks;
//! * what an owner left alone for the drain interval (an idle owner: no
//!   drain step since the reclaim thread last looked), and what an exited
//!   owner left on its slot (`draining` stays with the slot: the slot's
//!   next owner goes on with it, or the reclaim thread takes it back);
//! * `rcu_barrier`: before a barrier's marker runs, the reclaim thread
//!   takes every `ready` stack and `draining` list and drops the rest of
//!   them itself, until no handed-back object is left undropped
//!   (`in_hand_back` is zero), so the barrier still returns after every
//!   drop queued before it.
//!
//! # Counting
//!
//! A handed-back block leaves the backlog when handed back (it is ready,
//! and bounded per slot), so throttled producers never wait for another
//! thread's next call. `in_hand_back` counts its objects until the block is
//! emptied; `stats()` reports them as freed only then.

use super::state::Kvfree;
use crate::defer::block::{Block, SealedBlock};
use crate::defer::deferrals::Deferrals;
use crate::defer::slot::{drain_section, wait_for_drain_to_finish, DeferSlot, SlotBlock};
use crate::gp::sequence::GpSequence;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// Objects of handed-back blocks a producer drops per `kvfree_rcu` call,
/// at most: one for the object it retires (one free per allocation keeps
/// the allocator's per-thread cache balanced), and one more while more
/// than half of [`READY_LIMIT`] blocks wait (catching up after a burst).
/// The inline work of one call stays a few frees.
pub const OWN_FREE_PER_CALL: usize = 2;

/// Ready blocks the reclaim thread hands back to one slot before it frees
/// further ones itself (about 16,000 thin boxes waiting for their owner).
pub const READY_LIMIT: u32 = 32;

/// Which slots [`Kvfree::take_back`] takes from.
#[derive(Copy, Clone, Debug)]
pub(crate) enum TakeBack {
    /// Slots with no owner, or whose owner has not dropped anything since
    /// the reclaim thread looked this long ago (ns).
    Stale { older_than: u64 },
    /// Every slot (`rcu_barrier`).
    All,
}

impl Kvfree {
    /// Whether freed objects may be dropped on the thread that retired them.
    pub(crate) fn drop_on_caller(&self) -> bool {
        // Relaxed: a setting; a block handed back just before it changes is
        // still freed (by its owner or taken back), only by another thread.
        self.drop_on_caller.load(Ordering::Relaxed)
    }

    /// Sets whether objects may be dropped on the thread that retired them
    /// (default true); off, every destructor runs on the reclaim thread.
    pub(crate) fn set_drop_on_caller(&self, on: bool) {
        // Relaxed: see `drop_on_caller`.
        self.drop_on_caller.store(on, Ordering::Relaxed);
    }

    /// The reclaim thread's choice for a block whose grace period has
    /// completed: hand it back to its owner, or free it now.
    pub(crate) fn free_or_hand_back(
        &self,
        sealed: SealedBlock<DeferSlot>,
        gp: &GpSequence,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) {
        if !self.hands_back(&sealed) {
            return self.free_block(sealed, gp, flavour, under_pressure);
        }
        let objects = sealed.objects() as u64;
        let b = sealed.into_raw();
        // SAFETY: the block is ours (taken from the pending list); its home
        // is a slot of a static registry.
        let home = unsafe { &*b.as_ref().home() };
        // Relaxed: counted before the push below, which orders it before
        // the owner's subtraction (Release push, Acquire swap).
        self.counters.in_hand_back.fetch_add(objects, Ordering::Relaxed);
        // SeqCst: the block leaves the backlog now (see "Counting"); as in
        // `free_block`, the `objects_freed` side of the store-buffering
        // pair with throttled producers.
        self.counters.objects_freed.fetch_add(objects, Ordering::SeqCst);
        // Relaxed: statistics and an estimate.
        self.counters.blocks_freed.fetch_add(1, Ordering::Relaxed);
        if home.ready_len.fetch_add(1, Ordering::Relaxed) == 0 {
            // Relaxed: the reclaim thread's own fields (see `takes`), and
            // a hint read of the owner's `drain_seq` (the take-back's
            // bracket wait orders what matters).
            home.ready_since.store(crate::sys::monotonic_ns(), Ordering::Relaxed);
            home.drain_seen.store(home.hot.drain_seq.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        // Release pairs with the Acquire swap of the taker (the owner in
        // `take_ready`, or `take_back`): the grace period this thread saw
        // complete, and the block's header, happen before its drops.
        // SAFETY: the block is ours; blocks on `ready` stay allocated until
        // their taker frees them.
        unsafe { Block::push_on(&home.ready, b, Ordering::Release) };
    }

    fn hands_back(&self, sealed: &SealedBlock<DeferSlot>) -> bool {
        let b = sealed.as_block();
        // SAFETY: sealed blocks stay allocated until freed; the home is a
        // slot of a static registry.
        let (pinned, reserve, home) = unsafe { (b.is_pinned(), b.is_reserve(), &*b.home()) };
        // Relaxed: hints. An owner that leaves just after leaves its blocks
        // to `take_back`; `ready_len` is an estimate that bounds them.
        self.drop_on_caller()
            && !pinned
            && !reserve
            && home.in_use.load(Ordering::Relaxed)
            && home.ready_len.load(Ordering::Relaxed) < READY_LIMIT
    }

    /// The owner's seal (outside the append's bracket): when its `draining`
    /// list is empty, moves the blocks handed back to `slot`, the calling
    /// thread's, there, for its next calls to drop.
    pub(crate) fn take_ready(&self, slot: &DeferSlot) {
        // Relaxed: owner-only non-null stores, and a first look at `ready`
        // (a block pushed meanwhile waits for the next seal).
        if slot.ready.load(Ordering::Relaxed).is_null()
            || !slot.hot.draining.load(Ordering::Relaxed).is_null()
            || slot.is_draining()
        {
            return;
        }
        drain_section(slot, || {
            // Relaxed: as above, re-read inside the bracket (the reclaim
            // thread may have taken the list meanwhile, never filled it).
            if slot.hot.draining.load(Ordering::Relaxed).is_null() {
                // Acquire pairs with the Release pushes of `ready`.
                let list = slot.ready.swap(std::ptr::null_mut(), Ordering::Acquire);
                // Relaxed: the reclaim thread takes the list only through
                // the bracket, whose Release end publishes it. A swap, as
                // in the loom model (whose plain stores may slip inside a
                // concurrent swap: tokio-rs/loom#254); once per seal.
                let was = slot.hot.draining.swap(list, Ordering::Relaxed);
                debug_assert!(was.is_null(), "only this thread fills `draining`");
            }
        });
    }

    /// The owner's step, on every `kvfree_rcu` call (after the append's
    /// bracket): drops at most [`OWN_FREE_PER_CALL`] objects of the first
    /// block of its `draining` list. Nothing to do is one load.
    #[inline(always)]
    pub(crate) fn drain_step(&self, slot: &DeferSlot, flavour: &'static str) {
        // Relaxed: only the owner stores non-null; a swap by the reclaim
        // thread is seen inside the bracket.
        if !slot.hot.draining.load(Ordering::Relaxed).is_null() {
            self.drain_some(slot, flavour);
        }
    }

    #[inline(never)]
    fn drain_some(&self, slot: &DeferSlot, flavour: &'static str) {
        if slot.is_draining() {
            return; // a destructor's own kvfree_rcu: its caller goes on
        }
        let mut panics = 0;
        let emptied = drain_section(slot, || {
            // Relaxed: see `drain_step`.
            let b = NonNull::new(slot.hot.draining.load(Ordering::Relaxed))?;
            // Relaxed: an estimate.
            let behind = slot.ready_len.load(Ordering::Relaxed) > READY_LIMIT / 2;
            let max = if behind { OWN_FREE_PER_CALL } else { 1 };
            // SAFETY: the first block of `draining` is ours inside the
            // bracket (see "Ownership"): sealed, past its grace period.
            unsafe { Block::drop_some(b, max, flavour, &mut panics) };
            // SAFETY: as above.
            let (done, next) = unsafe { (b.as_ref().is_drained(), b.as_ref().next()) };
            // Relaxed: the bracket's Release end publishes the unlink (the
            // exchange fails if the reclaim thread swapped the list away;
            // the block is then its to count and recycle).
            let unlinked = done
                && slot.hot.draining.compare_exchange(b.as_ptr(), next, Ordering::Relaxed, Ordering::Relaxed).is_ok();
            if unlinked {
                // Counted inside the bracket: a `take_back` that waited for
                // it sees the count final (see `wait_for_hand_backs`).
                // SAFETY: ours (see above).
                let objects = unsafe { b.as_ref().objects() } as u64;
                self.count_emptied(slot, objects, objects);
            }
            unlinked.then_some(b)
        });
        if panics > 0 {
            // Relaxed: a statistic.
            self.counters.drop_panics.fetch_add(panics, Ordering::Relaxed);
        }
        if let Some(b) = emptied {
            // Recycled into its own cache (up to its cap) even when the
            // backlog is past the soft limit: this thread takes them at its
            // next seals, and a block freed to the allocator only to be
            // allocated again made glibc consolidate its fast bins on every
            // such 4 KiB allocation (the flood's profile, BENCHMARKS.md).
            self.empty_and_recycle(b, flavour, &|| false);
            self.take_ready(slot);
        }
    }

    /// An emptied handed-back block leaves the counts: `objects` dropped,
    /// `by_owner` of them by the owner.
    fn count_emptied(&self, slot: &DeferSlot, objects: u64, by_owner: u64) {
        // Release pairs with the Acquire load in `wait_for_hand_backs`: the
        // drops happen before a barrier that sees the count at zero.
        self.counters.in_hand_back.fetch_sub(objects, Ordering::Release);
        // Relaxed: a statistic, and an estimate.
        self.counters.freed_by_owner.fetch_add(by_owner, Ordering::Relaxed);
        slot.ready_len.fetch_sub(1, Ordering::Relaxed);
    }

    /// Drops what is left of a handed-back block taken from its owner (its
    /// drop cursor says where the owner stopped), counts it, and recycles
    /// it; returns the objects the block held.
    fn finish_taken(
        &self,
        slot: &DeferSlot,
        b: NonNull<SlotBlock>,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) -> u64 {
        // SAFETY: taken off `ready` or `draining`, so ours (see
        // "Ownership").
        let objects = unsafe { b.as_ref().objects() } as u64;
        let here = self.empty_and_recycle(b, flavour, under_pressure);
        self.count_emptied(slot, objects, objects - here);
        objects
    }

    /// Drops the objects left in `b` (owned, past its grace period), and
    /// recycles it; returns how many it dropped.
    fn empty_and_recycle(
        &self,
        b: NonNull<SlotBlock>,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) -> u64 {
        let mut panics = 0;
        // SAFETY: the caller owns the sealed block, past its grace period.
        let n = unsafe { Block::drop_all(b, flavour, &mut panics) } as u64;
        if panics > 0 {
            // Relaxed: a statistic.
            self.counters.drop_panics.fetch_add(panics, Ordering::Relaxed);
        }
        self.recycle(b, under_pressure);
        n
    }

    /// Takes the `ready` stacks and `draining` lists of the slots `which`
    /// names and frees their blocks here (the reclaim thread). Returns the
    /// blocks freed. When it returns, every block handed back to those
    /// slots before the call is emptied and counted.
    ///
    /// Two rounds of: swap `ready` (its blocks are freed at once: an owner
    /// never touches a block there), swap `draining`, a heavy barrier, then
    /// wait for each owner's drain step under way and free the rest of the
    /// list. An owner's step that began before the barrier is over after
    /// the wait; one that begins after it sees the swaps. But a step under
    /// way during the first round may have moved `ready` to `draining`
    /// after the swap, and the owner's next steps use that list: the second
    /// round takes it and waits for them. After it the owner can find
    /// nothing: `ready` is refilled only by this thread. (Model:
    /// rcu-core/tests/loom_hand_back.rs.)
    pub(crate) fn take_back(
        &self,
        defer: &Deferrals,
        gp: &GpSequence,
        flavour: &'static str,
        which: TakeBack,
        under_pressure: &dyn Fn() -> bool,
    ) -> usize {
        let now = crate::sys::monotonic_ns();
        let mut any = false;
        for slot in defer.slots.slots() {
            // Relaxed: a first look (an estimate; blocks handed back since
            // are this thread's own). `taking`: this thread's own field.
            if slot.ready_len.load(Ordering::Relaxed) > 0 && takes(slot, which, now) {
                slot.taking.store(true, Ordering::Relaxed);
                any = true;
            }
        }
        if !any {
            return 0;
        }
        // Relaxed: this thread's own flags.
        let taking = || defer.slots.slots().filter(|s| s.taking.load(Ordering::Relaxed));
        let mut freed = 0;
        for _round in 0..2 {
            for slot in taking() {
                // Acquire: as in `take_ready`.
                let ready = slot.ready.swap(std::ptr::null_mut(), Ordering::Acquire);
                freed += self.free_list(slot, ready, gp, flavour, under_pressure);
                // Relaxed: the owner's steps are ordered by the bracket wait
                // below, not by this swap. Kept aside, untouched (the owner
                // may still read the first block's header) until then.
                let draining = slot.hot.draining.swap(std::ptr::null_mut(), Ordering::Relaxed);
                // Relaxed: this thread's own field.
                slot.taken.store(draining, Ordering::Relaxed);
            }
            // Pairs with the owners' light barrier in `drain_section`.
            crate::sys::heavy_barrier();
            for slot in taking() {
                wait_for_drain_to_finish(slot);
                // Relaxed: this thread's own field.
                let taken = slot.taken.swap(std::ptr::null_mut(), Ordering::Relaxed);
                freed += self.free_list(slot, taken, gp, flavour, under_pressure);
            }
        }
        for slot in taking() {
            // Relaxed: this thread's own fields. Dated again, so that a
            // slot whose `ready_len` says more than it held is looked at
            // an interval later, not on every pass.
            slot.ready_since.store(now, Ordering::Relaxed);
            slot.taking.store(false, Ordering::Relaxed);
        }
        freed
    }

    /// Empties and recycles the blocks of the list `first` (owned, linked
    /// through their headers); returns how many.
    fn free_list(
        &self,
        slot: &DeferSlot,
        first: *mut SlotBlock,
        gp: &GpSequence,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) -> usize {
        let mut n = 0;
        let mut next = first;
        while let Some(b) = NonNull::new(next) {
            // SAFETY: the list is ours; the link is read before the block
            // is emptied.
            let (link, cookie) = unsafe { (b.as_ref().next(), b.as_ref().cookie()) };
            debug_assert!(gp.poll(cookie), "kvfree block handed back before its grace period ({cookie:?})");
            next = link;
            self.finish_taken(slot, b, flavour, under_pressure);
            n += 1;
        }
        n
    }

    /// `rcu_barrier` (the reclaim thread, before a marker runs): takes every
    /// stack and list back, so that every object handed back before is
    /// dropped when it returns.
    ///
    /// `take_back` alone is enough: an owner counts a block it emptied
    /// inside its drain step, and `take_back` waits for every step that
    /// could still hold one (no hand-back happens meanwhile: this is the
    /// thread that hands back). The count is checked in debug builds.
    pub(crate) fn wait_for_hand_backs(
        &self,
        defer: &Deferrals,
        gp: &GpSequence,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) {
        self.take_back(defer, gp, flavour, TakeBack::All, under_pressure);
        // Acquire pairs with the Release subtractions in `count_emptied`.
        let left = self.counters.in_hand_back.load(Ordering::Acquire);
        debug_assert_eq!(left, 0, "rcu_{flavour}: handed-back kvfree objects left after the barrier's take-back");
    }

    /// The earliest `ready_since` among slots with blocks handed back and
    /// not yet emptied (reclaim thread).
    pub(crate) fn earliest_ready(&self, defer: &Deferrals) -> Option<u64> {
        // Relaxed: this thread's own fields (`ready_since`), and an
        // estimate (`ready_len`; a slot emptied meanwhile is skipped by
        // `take_back`).
        defer
            .slots
            .slots()
            .filter(|s| s.ready_len.load(Ordering::Relaxed) > 0)
            .map(|s| s.ready_since.load(Ordering::Relaxed))
            .min()
    }
}

/// Whether `take_back` takes from `slot`. For `Stale`, an owner that
/// dropped something since the last look (its `drain_seq` moved), or is
/// inside a drain step, is left alone and dated again.
fn takes(slot: &DeferSlot, which: TakeBack, now: u64) -> bool {
    let TakeBack::Stale { older_than } = which else { return true };
    // Relaxed: hints; `ready_since` and `drain_seen` are the reclaim
    // thread's own, and a step that starts just after is waited for.
    if !slot.in_use.load(Ordering::Relaxed) {
        return true;
    }
    let seq = slot.hot.drain_seq.load(Ordering::Relaxed);
    // Odd: a destructor has run since the last look; looked at again one
    // interval later rather than waited for.
    if seq != slot.drain_seen.load(Ordering::Relaxed) || seq & 1 == 1 {
        slot.drain_seen.store(seq, Ordering::Relaxed);
        slot.ready_since.store(now, Ordering::Relaxed);
        return false;
    }
    now.saturating_sub(slot.ready_since.load(Ordering::Relaxed)) >= older_than
}
