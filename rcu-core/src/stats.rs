//! Statistics: counters kept by the engine and the snapshot users read.

use crate::engine::Engine;
use crate::sys::BarrierStrategy;
use crate::thread::FlavourLocals;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters updated on slow paths only (never on a reader fast path).
#[derive(Debug)]
pub(crate) struct StatCounters {
    pub(crate) synchronize_calls: AtomicU64,
    /// `synchronize_rcu` calls that found no reader to wait for (not in
    /// `synchronize_calls`: one counter per call).
    pub(crate) synchronize_without_readers: AtomicU64,
    /// Stalls warned about (see `stall.rs`); bumped by the first warning
    /// of each stall.
    pub(crate) stall_warnings: AtomicU64,
}

impl StatCounters {
    pub(crate) const fn new() -> Self {
        StatCounters {
            synchronize_calls: AtomicU64::new(0),
            synchronize_without_readers: AtomicU64::new(0),
            stall_warnings: AtomicU64::new(0),
        }
    }

    fn callbacks(r: &crate::reclaim::Reclaimer) -> Stats {
        // Relaxed everywhere: statistics, not synchronisation. rcu_barrier
        // markers travel through the queue too; they are not counted.
        // `queued` lags behind by the producers' residuals (reclaim.rs,
        // "Counting"): a callback invoked was queued.
        let barriers = r.barriers.load(Ordering::Relaxed);
        let invoked = r.invoked.load(Ordering::Relaxed);
        let queued = r.queued.load(Ordering::Relaxed).max(invoked).saturating_sub(barriers);
        let invoked = invoked.saturating_sub(barriers).min(queued);
        Stats {
            flavour: "",
            barrier_strategy: BarrierStrategy::Fences,
            grace_periods: 0,
            synchronize_calls: 0,
            synchronize_without_readers: 0,
            registered_threads: 0,
            registry_capacity: 0,
            stalls: 0,
            callbacks_queued: queued,
            callbacks_invoked: invoked,
            callback_batches: r.batches.load(Ordering::Relaxed),
            largest_callback_batch: r.largest_batch.load(Ordering::Relaxed),
            callback_backlog: queued - invoked,
            peak_callback_backlog: r.peak_backlog.load(Ordering::Relaxed),
            callback_panics: r.panics.load(Ordering::Relaxed),
            barriers,
            kvfree_objects_queued: 0,
            kvfree_objects_freed: 0,
            kvfree_blocks_sealed: BlocksSealed::default(),
            kvfree_blocks_freed: 0,
            kvfree_blocks_in_flight: 0,
            kvfree_cached_blocks: 0,
            kvfree_emergency_synchronize: 0,
            kvfree_emergency_reserve: 0,
            kvfree_drop_panics: 0,
        }
    }

    fn kvfree(kv: &crate::kvfree::Kvfree, base: Stats) -> Stats {
        // Relaxed everywhere: statistics, not synchronisation.
        let c = &kv.counters;
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
        Stats {
            kvfree_objects_queued: c.objects_sealed.load(Ordering::Relaxed) + sync,
            kvfree_objects_freed: c.objects_freed.load(Ordering::Relaxed) + sync,
            kvfree_blocks_in_flight: blocks_sealed.total().saturating_sub(blocks_freed),
            kvfree_blocks_sealed: blocks_sealed,
            kvfree_blocks_freed: blocks_freed,
            kvfree_cached_blocks: kv.cached_blocks(),
            kvfree_emergency_synchronize: sync,
            kvfree_emergency_reserve: c.emergency_reserve.load(Ordering::Relaxed),
            kvfree_drop_panics: c.drop_panics.load(Ordering::Relaxed),
            ..base
        }
    }

    pub(crate) fn snapshot<F: FlavourLocals>(&self, engine: &Engine<F>) -> Stats {
        // Relaxed everywhere: statistics, not synchronisation.
        Stats {
            flavour: F::NAME,
            barrier_strategy: crate::sys::strategy(),
            grace_periods: engine.sequence().completed(),
            synchronize_calls: self.synchronize_calls.load(Ordering::Relaxed)
                + self.synchronize_without_readers.load(Ordering::Relaxed),
            synchronize_without_readers: self.synchronize_without_readers.load(Ordering::Relaxed),
            registered_threads: engine.registry().in_use(),
            registry_capacity: engine.registry().capacity(),
            stalls: self.stall_warnings.load(Ordering::Relaxed),
            ..Self::kvfree(&engine.kvfree, Self::callbacks(&engine.reclaimer))
        }
    }
}

/// A snapshot of one flavour's counters (see each flavour's `stats()`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The flavour these counters belong to.
    pub flavour: &'static str,
    /// The reader/writer barrier pair in force for the process.
    pub barrier_strategy: BarrierStrategy,
    /// Grace periods completed.
    pub grace_periods: u64,
    /// `synchronize_rcu` calls served (shared grace periods make this larger
    /// than `grace_periods` under concurrency).
    pub synchronize_calls: u64,
    /// `synchronize_rcu` calls that returned at once, without a barrier,
    /// futex or lock, because no reader could hold them up (memb: none
    /// registered; QSBR: every registered thread offline). Each completed
    /// an empty grace period, counted in `grace_periods` too.
    pub synchronize_without_readers: u64,
    /// Reader slots claimed now.
    pub registered_threads: usize,
    /// Reader slots allocated (claimed or free).
    pub registry_capacity: usize,
    /// Grace-period stalls warned about (one per stall, however many
    /// warnings it printed; see `RCU_STALL_TIMEOUT`).
    pub stalls: u64,
    /// `call_rcu` / `call_rcu_raw` callbacks queued.
    pub callbacks_queued: u64,
    /// Callbacks run.
    pub callbacks_invoked: u64,
    /// Batches the reclaim thread ran (one grace period or less each).
    pub callback_batches: u64,
    /// The largest batch run at once.
    pub largest_callback_batch: u64,
    /// Callbacks queued and not yet run, now.
    pub callback_backlog: u64,
    /// The largest backlog seen (sampled when the reclaim thread takes work
    /// and whenever a producer passes the soft limit).
    pub peak_callback_backlog: u64,
    /// Callbacks that panicked (caught, reported, not fatal).
    pub callback_panics: u64,
    /// `rcu_barrier` calls.
    pub barriers: u64,
    /// Objects handed to `kvfree_rcu` (counted when their block is sealed,
    /// or when freed inline on the emergency path).
    pub kvfree_objects_queued: u64,
    /// Objects `kvfree_rcu` has freed.
    pub kvfree_objects_freed: u64,
    /// Blocks sealed, by reason.
    pub kvfree_blocks_sealed: BlocksSealed,
    /// Blocks freed (one grace period or less each).
    pub kvfree_blocks_freed: u64,
    /// Blocks sealed and not yet freed.
    pub kvfree_blocks_in_flight: u64,
    /// Empty blocks cached in per-thread caches.
    pub kvfree_cached_blocks: u64,
    /// Emergency branch 1: no block, the caller waited for a grace period
    /// and freed inline.
    pub kvfree_emergency_synchronize: u64,
    /// Emergency branch 2: no block, the caller could not block and used its
    /// preallocated reserve.
    pub kvfree_emergency_reserve: u64,
    /// Destructors run by kvfree_rcu that panicked (caught and reported).
    pub kvfree_drop_panics: u64,
}

impl Stats {
    /// kvfree objects freed per grace period completed so far (how well
    /// blocks batch objects; one grace period can serve many blocks).
    pub fn kvfree_objects_per_grace_period(&self) -> f64 {
        self.kvfree_objects_freed as f64 / self.grace_periods.max(1) as f64
    }
}

/// kvfree blocks sealed, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlocksSealed {
    /// The block was full: no room for another object's words and its
    /// size charge ([`BYTES_PER_BLOCK_WORD`](crate::kvfree::BYTES_PER_BLOCK_WORD)).
    pub full: u64,
    /// The drain interval passed.
    pub timer: u64,
    /// `rcu_barrier` collected it.
    pub barrier: u64,
    /// Its thread exited.
    pub thread_exit: u64,
    /// An emergency reserve block, handed back once its owner could block
    /// again.
    pub reserve_return: u64,
}

impl BlocksSealed {
    /// All blocks sealed.
    pub fn total(&self) -> u64 {
        self.full + self.timer + self.barrier + self.thread_exit + self.reserve_return
    }
}
