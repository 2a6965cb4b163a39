//! Freeing where the memory lives: ready blocks go back to the thread that
//! filled them, which frees them at its next seal (issue 30).
//!
//! An object allocated on a producer and freed on the reclaim thread never
//! returns to the producer's allocator cache, and both threads contend on
//! the allocator. So the reclaim thread keeps doing what needs it (taking
//! sealed blocks, waiting for their grace period, in cookie order) but,
//! once a block's grace period has completed, it pushes the block on its
//! home slot's `ready` stack instead of dropping the objects itself. The
//! owner takes that stack at its next seal (a moment it already pays for)
//! and frees at most [`OWN_FREE_BUDGET`] blocks, pushing the rest back.
//!
//! # Ownership
//!
//! `ready` is a stack of whole blocks that two kinds of thread push (the
//! reclaim thread hands back; the owner pushes back what its budget left)
//! and that either takes whole with one swap. Pushing is ABA-safe and
//! nothing pops a single block, so whoever swaps a block off owns it alone.
//! Every block on it is sealed and past its grace period: the reclaim
//! thread saw `poll(cookie)` (an Acquire load pairing with the grace
//! period's completion) before its Release push, and the owner's Acquire
//! swap pairs with that push, so the readers' last accesses happen before
//! the owner's drops.
//!
//! # What stays on the reclaim thread
//!
//! * blocks holding a C ABI `call_rcu`/`defer_rcu` entry (`pinned`: liburcu
//!   runs those on its call_rcu thread), emergency reserves, and blocks of
//!   slots with no owner;
//! * everything, when the engine's switch says destructors stay off user
//!   threads ([`Kvfree::set_drop_on_caller`]);
//! * a slot's hand-backs past [`READY_LIMIT`] blocks;
//! * stacks left alone for the drain interval (an idle or exited owner):
//!   the reclaim thread takes them back;
//! * `rcu_barrier`: before a barrier's marker runs, the reclaim thread
//!   takes every stack back and waits until no handed-back object is left
//!   undropped (`in_hand_back` is zero), so the barrier still returns after
//!   every drop queued before it.
//!
//! # Counting
//!
//! A handed-back block leaves the backlog when handed back (it is ready,
//! and bounded per slot), so throttled producers never wait for another
//! thread's next seal. `in_hand_back` counts its objects until dropped;
//! `stats()` reports them as freed only once dropped.

use super::state::Kvfree;
use crate::defer::block::{Block, SealedBlock};
use crate::defer::deferrals::Deferrals;
use crate::defer::slot::{DeferSlot, SlotBlock};
use crate::gp::sequence::GpSequence;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// Ready blocks a producer frees at one seal, at most (about 1,000 thin
/// boxes): the inline work of one `kvfree_rcu` call stays bounded.
pub const OWN_FREE_BUDGET: usize = 2;

/// Ready blocks the reclaim thread hands back to one slot before it frees
/// further ones itself (about 4,000 thin boxes waiting for their owner).
pub const READY_LIMIT: u32 = 32;

/// Which stacks [`Kvfree::take_back`] takes.
#[derive(Copy, Clone, Debug)]
pub(crate) enum TakeBack {
    /// Stacks of slots with no owner, or left alone this long (ns).
    Stale { older_than: u64 },
    /// Every stack (`rcu_barrier`).
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
        home.ready_len.fetch_add(1, Ordering::Relaxed);
        // Relaxed: `ready` is read for emptiness by this thread only to
        // date the stack (`ready_since` is this thread's own field).
        if home.ready.load(Ordering::Relaxed).is_null() {
            home.ready_since.store(crate::sys::monotonic_ns(), Ordering::Relaxed);
        }
        // Release pairs with the Acquire swap of the taker (the owner in
        // `free_own_ready`, or `take_back`): the grace period this thread
        // saw complete, and the block's header, happen before its drops.
        // SAFETY: the block is ours; blocks on `ready` stay allocated until
        // their taker frees them.
        unsafe { Block::push_on(&home.ready, b, Ordering::Release) };
    }

    fn hands_back(&self, sealed: &SealedBlock<DeferSlot>) -> bool {
        let b = sealed.as_block();
        // SAFETY: sealed blocks stay allocated until freed; the home is a
        // slot of a static registry.
        let (pinned, reserve, home) = unsafe { (b.is_pinned(), b.is_reserve(), &*b.home()) };
        // Relaxed: hints. An owner that leaves just after leaves its stack
        // to `take_back`; `ready_len` is an estimate that bounds the stack.
        self.drop_on_caller()
            && !pinned
            && !reserve
            && home.in_use.load(Ordering::Relaxed)
            && home.ready_len.load(Ordering::Relaxed) < READY_LIMIT
    }

    /// The owner's turn (after a seal, outside the append's bracket): frees
    /// at most [`OWN_FREE_BUDGET`] ready blocks handed back to `slot`, the
    /// calling thread's, and pushes the rest back. Returns the objects
    /// dropped. Does nothing inside a destructor it is already running.
    ///
    /// The emptied blocks go to the slot's cache (up to its cap) even when
    /// the backlog is past the soft limit: this thread takes them at its
    /// next seals, and a block freed to the allocator only to be allocated
    /// again made glibc consolidate its fast bins on every such 4 KiB
    /// allocation (the flood's profile, BENCHMARKS.md).
    pub(crate) fn free_own_ready(&self, slot: &DeferSlot, gp: &GpSequence, flavour: &'static str) -> u64 {
        // Relaxed: `ready` may be stale; a block pushed meanwhile waits for
        // the next seal. Relaxed `freeing`: owner-only.
        if slot.ready.load(Ordering::Relaxed).is_null() || slot.hot.freeing.load(Ordering::Relaxed) {
            return 0;
        }
        slot.hot.freeing.store(true, Ordering::Relaxed);
        // Acquire pairs with the Release pushes (`free_or_hand_back`, and
        // our own push-back).
        let mut next = slot.ready.swap(std::ptr::null_mut(), Ordering::Acquire);
        let mut objects = 0;
        let mut blocks = 0;
        while let Some(b) = NonNull::new(next) {
            if blocks == OWN_FREE_BUDGET {
                push_back(slot, b);
                break;
            }
            // SAFETY: swapped off `ready`, so ours; the link is read before
            // the block is emptied.
            next = unsafe { b.as_ref().next() };
            objects += self.drop_handed_back(b, gp, flavour, &|| false);
            blocks += 1;
        }
        // Relaxed: an estimate, and a statistic.
        slot.ready_len.fetch_sub(blocks as u32, Ordering::Relaxed);
        self.counters.freed_by_owner.fetch_add(objects, Ordering::Relaxed);
        slot.hot.freeing.store(false, Ordering::Relaxed);
        objects
    }

    /// Drops the objects of a handed-back block and recycles it; returns
    /// how many.
    fn drop_handed_back(
        &self,
        b: NonNull<SlotBlock>,
        gp: &GpSequence,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) -> u64 {
        // SAFETY: the caller swapped it off a `ready` stack: sealed, past
        // its grace period, ours.
        let n = unsafe { self.drop_objects(SealedBlock::from_raw(b), gp, flavour) } as u64;
        // Release pairs with the Acquire load in `wait_for_hand_backs`: the
        // drops happen before a barrier that sees the count at zero.
        self.counters.in_hand_back.fetch_sub(n, Ordering::Release);
        self.recycle(b, under_pressure);
        n
    }

    /// Takes back the stacks `which` names and frees their blocks here (the
    /// reclaim thread). Returns the blocks freed.
    pub(crate) fn take_back(
        &self,
        defer: &Deferrals,
        gp: &GpSequence,
        flavour: &'static str,
        which: TakeBack,
        under_pressure: &dyn Fn() -> bool,
    ) -> usize {
        let now = crate::sys::monotonic_ns();
        let mut freed = 0;
        for slot in defer.slots.slots() {
            // Relaxed: a first look; the swap below decides.
            if slot.ready.load(Ordering::Relaxed).is_null() || !takes(slot, which, now) {
                continue;
            }
            // Acquire: as in `free_own_ready`.
            let mut next = slot.ready.swap(std::ptr::null_mut(), Ordering::Acquire);
            while let Some(b) = NonNull::new(next) {
                // SAFETY: swapped off `ready`, so ours.
                next = unsafe { b.as_ref().next() };
                self.drop_handed_back(b, gp, flavour, under_pressure);
                // Relaxed: an estimate.
                slot.ready_len.fetch_sub(1, Ordering::Relaxed);
                freed += 1;
            }
        }
        freed
    }

    /// `rcu_barrier` (the reclaim thread, before a marker runs): takes every
    /// stack back and waits until owners have dropped what they took.
    pub(crate) fn wait_for_hand_backs(
        &self,
        defer: &Deferrals,
        gp: &GpSequence,
        flavour: &'static str,
        under_pressure: &dyn Fn() -> bool,
    ) {
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            self.take_back(defer, gp, flavour, TakeBack::All, under_pressure);
            // Acquire pairs with the owners' Release subtraction in
            // `drop_handed_back`. Only this thread adds, so once zero it
            // stays zero until this thread hands back again.
            if self.counters.in_hand_back.load(Ordering::Acquire) == 0 {
                return;
            }
            // An owner is dropping blocks it took (bounded by its budget),
            // or pushed some back (taken on the next round).
            backoff.snooze();
        }
    }

    /// The earliest `ready_since` among non-empty stacks (reclaim thread).
    pub(crate) fn earliest_ready(&self, defer: &Deferrals) -> Option<u64> {
        // Relaxed: this thread's own fields (`ready_since`), and `ready`
        // for emptiness only (a stack emptied meanwhile is skipped by
        // `take_back`).
        defer
            .slots
            .slots()
            .filter(|s| !s.ready.load(Ordering::Relaxed).is_null())
            .map(|s| s.ready_since.load(Ordering::Relaxed))
            .min()
    }
}

/// Whether `take_back` takes `slot`'s stack.
fn takes(slot: &DeferSlot, which: TakeBack, now: u64) -> bool {
    match which {
        TakeBack::All => true,
        // Relaxed: hints; `ready_since` is the reclaim thread's own.
        TakeBack::Stale { older_than } => {
            !slot.in_use.load(Ordering::Relaxed)
                || now.saturating_sub(slot.ready_since.load(Ordering::Relaxed)) >= older_than
        }
    }
}

/// Pushes the list starting at `first` (the budget's rest, linked through
/// the blocks' headers) back on `slot`'s stack, whole.
fn push_back(slot: &DeferSlot, first: NonNull<SlotBlock>) {
    let mut last = first;
    // SAFETY: the list was swapped off `ready` by the caller, so it is
    // ours and null-terminated; at most READY_LIMIT-odd blocks long.
    while let Some(n) = NonNull::new(unsafe { last.as_ref().next() }) {
        last = n;
    }
    // Relaxed: a first guess, checked by the exchange.
    let mut top = slot.ready.load(Ordering::Relaxed);
    loop {
        // SAFETY: `last` is ours until the exchange publishes the list.
        unsafe { Block::set_next(last, top) };
        // Release pairs with the next taker's Acquire swap.
        match slot.ready.compare_exchange_weak(top, first.as_ptr(), Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(t) => top = t,
        }
    }
}
