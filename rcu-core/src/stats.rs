//! Statistics: counters kept by the engine and the snapshot users read.

use crate::engine::Engine;
use crate::flavour::Flavour;
use crate::sys::BarrierStrategy;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters updated on slow paths only (never on a reader fast path).
#[derive(Debug)]
pub(crate) struct StatCounters {
    pub(crate) synchronize_calls: AtomicU64,
}

impl StatCounters {
    pub(crate) const fn new() -> Self {
        StatCounters { synchronize_calls: AtomicU64::new(0) }
    }

    fn callbacks(r: &crate::reclaim::Reclaimer) -> Stats {
        // Relaxed everywhere: statistics, not synchronisation. rcu_barrier
        // markers travel through the queue too; they are not counted.
        let barriers = r.barriers.load(Ordering::Relaxed);
        let queued = r.queued.load(Ordering::Relaxed).saturating_sub(barriers);
        let invoked = r.invoked.load(Ordering::Relaxed).saturating_sub(barriers).min(queued);
        Stats {
            flavour: "",
            barrier_strategy: BarrierStrategy::Fences,
            grace_periods: 0,
            synchronize_calls: 0,
            registered_threads: 0,
            registry_capacity: 0,
            callbacks_queued: queued,
            callbacks_invoked: invoked,
            callback_batches: r.batches.load(Ordering::Relaxed),
            largest_callback_batch: r.largest_batch.load(Ordering::Relaxed),
            callback_backlog: queued - invoked,
            peak_callback_backlog: r.peak_backlog.load(Ordering::Relaxed),
            callback_panics: r.panics.load(Ordering::Relaxed),
            barriers,
        }
    }

    pub(crate) fn snapshot<F: Flavour>(&self, engine: &Engine<F>) -> Stats {
        // Relaxed everywhere: statistics, not synchronisation.
        Stats {
            flavour: F::NAME,
            barrier_strategy: crate::sys::strategy(),
            grace_periods: engine.sequence().completed(),
            synchronize_calls: self.synchronize_calls.load(Ordering::Relaxed),
            registered_threads: engine.registry().in_use(),
            registry_capacity: engine.registry().capacity(),
            ..Self::callbacks(&engine.reclaimer)
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
    /// Reader slots claimed now.
    pub registered_threads: usize,
    /// Reader slots allocated (claimed or free).
    pub registry_capacity: usize,
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
}
