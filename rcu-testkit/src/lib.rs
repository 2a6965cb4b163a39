//! Early-free detection without reading freed memory.
//!
//! RCU tests must find out whether a reader reached an object that was
//! already reclaimed. Reading the object to find out would itself be a
//! use-after-free. Instead, the objects readers reach live in an [`Arena`]
//! whose memory is never freed during a test, and each carries a state in a
//! side table. What a test retires through RCU is a [`Token`]: a separately
//! allocated value whose `Drop` (run by the RCU machinery, after the grace
//! period it hopes it waited for) marks the arena element freed. A reader
//! that loads an element and finds it marked freed inside its read-side
//! section has caught an early free. The token's own memory is really freed,
//! so valgrind and sanitizers check the RCU machinery's frees as well.
//!
//! The flavour suites, generic over [`rcu_core::RcuFlavour`], run for a
//! flavour by one line in its crate: [`flavour_suites!`] (see [`suites`]
//! for how each test gets a process of its own).
//!
//! Also the helpers every test, bench and stress binary of the workspace
//! shares, written once: [`rng`] (a seeded SplitMix64), [`rss`] (resident
//! set size from `/proc`), [`pin`] (CPU pinning), [`stats`] (median, min,
//! max).
#![deny(missing_docs)]

pub mod arena;
pub mod async_gp;
pub mod callbacks;
pub mod cells;
pub mod fork;
pub mod isolation;
pub mod kvfree;
pub mod layers;
pub mod no_reader;
pub mod pin;
pub mod polling;
pub mod reader;
pub mod rng;
pub mod rss;
pub mod scenario;
pub mod seccomp;
pub mod stall;
pub mod state;
pub mod stats;
pub mod suites;
pub mod versioned;

pub use arena::{Arena, Element, Token};
pub use state::{Census, ObjectState, FREED, LIVE, RETIRED};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of what readers saw, for assertions.
#[derive(Debug, Default)]
pub struct ReaderChecks {
    /// Elements checked.
    pub reads: AtomicU64,
    /// Elements found `FREED` inside a read-side section.
    pub early_frees: AtomicU64,
}

impl ReaderChecks {
    /// Checks one element reached inside a read-side section.
    #[inline]
    pub fn check(&self, e: &Element) {
        // Relaxed: counters read after the readers are joined; `state()`
        // orders the element's freed mark itself (Acquire).
        self.reads.fetch_add(1, Ordering::Relaxed);
        if e.state() == FREED {
            self.early_frees.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Early frees seen so far.
    pub fn early_frees(&self) -> u64 {
        self.early_frees.load(Ordering::Relaxed)
    }

    /// Reads so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}
