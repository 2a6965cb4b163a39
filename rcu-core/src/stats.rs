//! Statistics: the counters the engine keeps itself and the snapshot users
//! read, which each part (reclaimer, kvfree) fills in with its own.

use crate::reader::registry::Registry;
use crate::sys::BarrierStrategy;
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

    /// The engine's own figures, with every other part's at zero: the
    /// reclaimer and kvfree add theirs (`Reclaimer::report`,
    /// `Kvfree::report`).
    pub(crate) fn snapshot(&self, flavour: &'static str, grace_periods: u64, registry: &Registry) -> Stats {
        // Relaxed everywhere: statistics, not synchronisation. They pair
        // with nothing: the increments (in `engine/grace_periods.rs` and
        // `StallReporter`) are Relaxed too, and a snapshot taken while
        // others count is approximate by nature.
        let without_readers = self.synchronize_without_readers.load(Ordering::Relaxed);
        Stats {
            flavour,
            barrier_strategy: crate::sys::strategy(),
            grace_periods,
            synchronize_calls: self.synchronize_calls.load(Ordering::Relaxed) + without_readers,
            synchronize_without_readers: without_readers,
            registered_threads: registry.in_use(),
            registry_capacity: registry.capacity(),
            stalls: self.stall_warnings.load(Ordering::Relaxed),
            callbacks_queued: 0,
            callbacks_invoked: 0,
            callback_batches: 0,
            largest_callback_batch: 0,
            callback_backlog: 0,
            peak_callback_backlog: 0,
            callback_panics: 0,
            barriers: 0,
            kvfree_objects_queued: 0,
            kvfree_objects_freed: 0,
            kvfree_blocks_sealed: BlocksSealed::default(),
            kvfree_blocks_freed: 0,
            kvfree_blocks_in_flight: 0,
            kvfree_cached_blocks: 0,
            kvfree_emergency_synchronize: 0,
            kvfree_emergency_reserve: 0,
            kvfree_drop_panics: 0,
            kvfree_objects_freed_by_owner: 0,
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
    /// kvfree objects dropped by the thread that retired them (ready blocks
    /// handed back to it; part of `kvfree_objects_freed`). Zero while the
    /// flavour keeps destructors on its reclaim thread
    /// (`set_kvfree_drop_on_caller(false)`).
    pub kvfree_objects_freed_by_owner: u64,
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
