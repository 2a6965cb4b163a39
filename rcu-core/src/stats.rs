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
        StatCounters {
            synchronize_calls: AtomicU64::new(0),
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
}
