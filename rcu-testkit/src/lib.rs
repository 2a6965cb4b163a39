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
//! Also the helpers every test, bench and stress binary of the workspace
//! shares, written once: [`rng`] (a seeded SplitMix64), [`rss`] (resident
//! set size from `/proc`), [`pin`] (CPU pinning).
#![deny(missing_docs)]

pub mod callbacks;
pub mod cells;
pub mod fork;
pub mod kvfree;
pub mod layers;
pub mod no_reader;
pub mod pin;
pub mod polling;
pub mod rng;
pub mod rss;
pub mod scenario;
pub mod stall;
pub mod state;
pub mod stats;
mod suites;

pub use state::{Census, ObjectState, FREED, LIVE, RETIRED};
use std::sync::atomic::{AtomicU64, Ordering};

/// One object readers can reach. Memory stays valid for the arena's life.
#[derive(Debug)]
pub struct Element {
    /// Its index in the arena.
    pub id: usize,
    /// `LIVE`, `RETIRED` or `FREED`.
    state: ObjectState,
}

impl Element {
    /// The element's state (see [`ObjectState::get`]).
    pub fn state(&self) -> u8 {
        self.state.get()
    }
}

/// A fixed pool of elements with their states and counters.
#[derive(Debug)]
pub struct Arena {
    elements: Box<[Element]>,
    next: AtomicU64,
    census: Census,
}

impl Arena {
    /// An arena of `capacity` elements, leaked so tokens can hold `'static`
    /// references (tests create a few).
    pub fn leak(capacity: usize) -> &'static Arena {
        let elements = (0..capacity).map(|id| Element { id, state: ObjectState::new(0) }).collect();
        Box::leak(Box::new(Arena { elements, next: AtomicU64::new(0), census: Census::new() }))
    }

    /// Takes the next element (each is used once), marks it live and returns
    /// it with the token that will mark it freed.
    ///
    /// # Panics
    ///
    /// When the arena is exhausted.
    pub fn create(&'static self) -> (&'static Element, Token) {
        // Relaxed: a unique index is all that is needed.
        let id = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        let e = self.elements.get(id).expect("arena exhausted: give the test a larger arena");
        e.state.mark_live();
        self.census.count_created();
        (e, Token { arena: self, id })
    }

    /// Elements created so far.
    pub fn created(&self) -> u64 {
        self.census.created()
    }

    /// Tokens dropped so far.
    pub fn dropped(&self) -> u64 {
        self.census.dropped()
    }

    /// Elements currently marked freed.
    pub fn freed_count(&self) -> usize {
        self.elements.iter().filter(|e| e.state() == FREED).count()
    }
}

/// Marks its element freed when dropped; this is what a test retires.
#[derive(Debug)]
pub struct Token {
    arena: &'static Arena,
    id: usize,
}

impl Token {
    /// Marks the element retired (call when unpublishing it).
    pub fn retire(&self) {
        self.arena.elements[self.id].state.mark_retired();
    }

    /// The element's id.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.arena.elements[self.id].state.mark_freed();
        self.arena.census.count_dropped();
    }
}

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
