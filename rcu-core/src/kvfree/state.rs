//! One flavour's kvfree state: the inbox of sealed blocks for the reclaim
//! thread, the drain interval, the counters and the limits.

use crate::defer::block::{SealReason, SealedBlock};
use crate::defer::deferrals::Deferrals;
use crate::defer::slot::{DeferSlot, SlotBlock};
use crate::gp::sequence::GpSequence;
use crate::stats::{BlocksSealed, Stats};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

/// Empty blocks a slot keeps for reuse (the kernel keeps 5 pages per CPU).
pub const CACHED_BLOCKS_PER_THREAD: u32 = 16;

/// The default [`ReclaimPacing::kvfree_backlog_hard`](crate::ReclaimPacing):
/// past this many objects in sealed blocks not yet freed (32 full blocks of
/// thin boxes), a `kvfree_rcu` caller that may block waits for reclaim when
/// it seals a block (until the whole backlog is under the soft limit), as it
/// does past [`CallbackLimits::hard`](crate::CallbackLimits) for the whole
/// backlog. It keeps a flood's memory near a cache-warm working set: freed
/// blocks are reused while still cached. The values tried and the peak RSS
/// and throughput of each are in BENCHMARKS.md ("Design choices, measured",
/// `rcu-bench flood`).
pub const KVFREE_BACKLOG_HARD: u64 = 16_384;

/// Default drain interval: the kernel's `KFREE_DRAIN_JIFFIES` (HZ / 50).
/// A partial block waits at most this long plus a grace period; shorter
/// means more grace periods for sparse frees, longer holds memory longer.
pub const DEFAULT_DRAIN_INTERVAL: Duration = Duration::from_millis(20);

/// Counters (statistics and backlog).
#[derive(Default)]
pub(super) struct KvfreeCounters {
    pub(super) objects_sealed: AtomicU64,
    pub(super) objects_freed: AtomicU64,
    pub(super) blocks_sealed: [AtomicU64; 5],
    pub(super) blocks_freed: AtomicU64,
    pub(super) emergency_synchronize: AtomicU64,
    pub(super) emergency_reserve: AtomicU64,
    pub(super) drop_panics: AtomicU64,
    /// Objects handed back to their owners and not yet dropped
    /// (`hand_back.rs`).
    pub(super) in_hand_back: AtomicU64,
    /// Objects their owners dropped (a statistic).
    pub(super) freed_by_owner: AtomicU64,
}

/// One flavour's kvfree state: the inbox of sealed blocks, the drain
/// interval and the counters (the blocks themselves live in the deferral
/// slots until sealed).
pub struct Kvfree {
    /// Sealed blocks for the reclaim thread (a stack; it sorts them).
    inbox: AtomicPtr<SlotBlock>,
    drain_interval_ns: AtomicU64,
    /// Whether ready blocks go back to their owners to free (`hand_back.rs`).
    pub(super) drop_on_caller: AtomicBool,
    pub(super) counters: KvfreeCounters,
}

impl std::fmt::Debug for Kvfree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kvfree").field("drain_interval", &self.drain_interval()).finish_non_exhaustive()
    }
}

impl Kvfree {
    pub(crate) const fn new() -> Self {
        Kvfree {
            inbox: AtomicPtr::new(std::ptr::null_mut()),
            drain_interval_ns: AtomicU64::new(DEFAULT_DRAIN_INTERVAL.as_nanos() as u64),
            drop_on_caller: AtomicBool::new(true),
            counters: KvfreeCounters {
                objects_sealed: AtomicU64::new(0),
                objects_freed: AtomicU64::new(0),
                blocks_sealed: [const { AtomicU64::new(0) }; 5],
                blocks_freed: AtomicU64::new(0),
                emergency_synchronize: AtomicU64::new(0),
                emergency_reserve: AtomicU64::new(0),
                drop_panics: AtomicU64::new(0),
                in_hand_back: AtomicU64::new(0),
                freed_by_owner: AtomicU64::new(0),
            },
        }
    }

    pub(crate) fn drain_interval(&self) -> Duration {
        // Relaxed: advisory, pairs with nothing (see `set_drain_interval`).
        Duration::from_nanos(self.drain_interval_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn set_drain_interval(&self, d: Duration) {
        // Relaxed: advisory; the reclaim thread picks it up at its next wake.
        self.drain_interval_ns.store(d.as_nanos().clamp(1, u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    /// Objects sealed and not yet freed.
    pub(crate) fn backlog(&self) -> u64 {
        // SeqCst: the `objects_freed` side of the reclaim thread's
        // store-buffering pair with throttled producers (the SeqCst add in
        // `free_block` against `throttled`; see `reclaim/backlog.rs`).
        let freed = self.counters.objects_freed.load(Ordering::SeqCst);
        // Relaxed: an estimate; sealing is published through the inbox.
        self.counters.objects_sealed.load(Ordering::Relaxed).saturating_sub(freed)
    }

    /// The earliest `dirty_since` among open blocks, if any.
    pub(crate) fn earliest_dirty(&self, defer: &Deferrals) -> Option<u64> {
        // SeqCst: pairs with the owner's SeqCst store in `mark_dirty` and
        // the reclaim thread's `sleeping` store (store-buffering pair).
        defer.slots.slots().map(|s| s.dirty_since.load(Ordering::SeqCst)).filter(|&t| t != 0).min()
    }

    /// Seals `b` with a cookie taken now and hands it to the reclaim
    /// thread's inbox. The caller reports the seal (the engine wakes the
    /// thread and checks the backlog).
    pub(super) fn seal(&self, gp: &GpSequence, b: NonNull<SlotBlock>, reason: SealReason) {
        // The cookie is taken now, after a fence (inside `snapshot`): every
        // object in the block was unpublished before. A later cookie than
        // strictly needed is conservative.
        // SAFETY: the caller owns the open block and never appends again.
        let sealed = unsafe { SealedBlock::seal(b, gp.snapshot()) };
        // Relaxed: statistics and a backlog estimate (see `backlog`).
        self.counters.objects_sealed.fetch_add(sealed.objects() as u64, Ordering::Relaxed);
        self.counters.blocks_sealed[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.push_inbox(sealed);
    }

    fn push_inbox(&self, sealed: SealedBlock<DeferSlot>) {
        // Release publishes the block and its entries to the reclaim
        // thread's Acquire swap in `take_inbox`; SeqCst also orders it with
        // the `sleeping` load of the wake that follows the report
        // (store-buffering pair with the reclaim thread's `idle`, which
        // checks `has_inbox`).
        // SAFETY: the sealed block is ours; inbox blocks stay allocated
        // until the reclaim thread frees them after taking them.
        unsafe { SlotBlock::push_on(&self.inbox, sealed.into_raw(), Ordering::SeqCst) };
    }

    /// Whether sealed blocks wait in the inbox.
    pub(crate) fn has_inbox(&self) -> bool {
        // SeqCst: see `push_inbox`.
        !self.inbox.load(Ordering::SeqCst).is_null()
    }

    /// Takes every sealed block handed over so far (reclaim thread), linked
    /// through their headers.
    pub(crate) fn take_inbox(&self) -> *mut SlotBlock {
        // Acquire pairs with the Release in `push_inbox`.
        self.inbox.swap(std::ptr::null_mut(), Ordering::Acquire)
    }

    /// The counters, into `stats`.
    pub(crate) fn report(&self, defer: &Deferrals, stats: &mut Stats) {
        // Relaxed everywhere: statistics, not synchronisation.
        let c = &self.counters;
        let sealed = |i: usize| c.blocks_sealed[i].load(Ordering::Relaxed);
        let blocks_sealed = BlocksSealed {
            full: sealed(0),
            timer: sealed(1),
            barrier: sealed(2),
            thread_exit: sealed(3),
            reserve_return: sealed(4),
        };
        let blocks_freed = c.blocks_freed.load(Ordering::Relaxed);
        let sync = c.emergency_synchronize.load(Ordering::Relaxed);
        stats.kvfree_objects_queued = c.objects_sealed.load(Ordering::Relaxed) + sync;
        // Handed back counts as freed for the backlog, not here until
        // dropped (`hand_back.rs`, "Counting").
        let in_hand_back = c.in_hand_back.load(Ordering::Relaxed);
        stats.kvfree_objects_freed = c.objects_freed.load(Ordering::Relaxed).saturating_sub(in_hand_back) + sync;
        stats.kvfree_objects_freed_by_owner = c.freed_by_owner.load(Ordering::Relaxed);
        stats.kvfree_blocks_in_flight = blocks_sealed.total().saturating_sub(blocks_freed);
        stats.kvfree_blocks_sealed = blocks_sealed;
        stats.kvfree_blocks_freed = blocks_freed;
        // Relaxed: a statistic.
        stats.kvfree_cached_blocks = defer.slots.slots().map(|s| u64::from(s.cache_len.load(Ordering::Relaxed))).sum();
        stats.kvfree_emergency_synchronize = sync;
        stats.kvfree_emergency_reserve = c.emergency_reserve.load(Ordering::Relaxed);
        stats.kvfree_drop_panics = c.drop_panics.load(Ordering::Relaxed);
    }

    /// `fork()` support, child side: a block the parent was freeing at the
    /// fork is lost to the child, so the counters are recomputed from what
    /// is left: `pending` (blocks, objects) in the reclaim thread's list,
    /// plus the inbox; handed-back blocks count as freed, and
    /// `in_hand_back` as what is left on the slots' `ready` stacks and
    /// `draining` lists (a list the reclaim thread had taken at the fork is
    /// lost with it). A fork from inside a destructor that its own thread
    /// runs for `kvfree_rcu` (`hand_back.rs`) is not supported.
    pub(crate) fn reset_after_fork_child(&self, defer: &Deferrals, pending: (u64, u64)) {
        let (mut blocks, mut objects) = pending;
        // Relaxed: the child is single-threaded here.
        let mut b = self.inbox.load(Ordering::Relaxed);
        while let Some(block) = NonNull::new(b) {
            // SAFETY: inbox blocks are sealed and stay allocated.
            let block = unsafe { block.as_ref() };
            blocks += 1;
            objects += block.objects() as u64;
            b = block.next();
        }
        let c = &self.counters;
        // Relaxed: the child is single-threaded here.
        let sealed_objects = c.objects_sealed.load(Ordering::Relaxed);
        c.objects_freed.store(sealed_objects.saturating_sub(objects), Ordering::Relaxed);
        let sealed_blocks: u64 = c.blocks_sealed.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        c.blocks_freed.store(sealed_blocks.saturating_sub(blocks), Ordering::Relaxed);
        let mut in_hand_back = 0;
        // Relaxed, every access below: the child is single-threaded here.
        for slot in defer.slots.slots() {
            let mut n = 0;
            // A list the parent's reclaim thread had taken is lost with it.
            slot.taken.store(std::ptr::null_mut(), Ordering::Relaxed);
            slot.taking.store(false, Ordering::Relaxed);
            for list in [&slot.ready, &slot.hot.draining] {
                let mut b = list.load(Ordering::Relaxed);
                while let Some(block) = NonNull::new(b) {
                    // SAFETY: handed-back blocks are sealed and stay
                    // allocated until emptied.
                    let block = unsafe { block.as_ref() };
                    n += 1;
                    in_hand_back += block.objects() as u64;
                    b = block.next();
                }
            }
            slot.ready_len.store(n, Ordering::Relaxed);
        }
        c.in_hand_back.store(in_hand_back, Ordering::Relaxed);
    }
}
