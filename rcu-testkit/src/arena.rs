//! The [`Arena`]: elements readers can reach, whose memory stays valid for
//! the whole test, each with its state in a side table; and the [`Token`]
//! that goes through RCU in an element's place and marks it freed when it
//! is dropped (see the crate docs).
//!
//! Two ways to use it:
//!
//! * **Once each** ([`Arena::leak`], [`Arena::create`]): every element is
//!   created, retired and freed once; a test needs as many elements as it
//!   retires objects.
//! * **Reused, with a pipeline age** ([`Arena::leak_checked`],
//!   [`Arena::mint`]): a long run (the torture test) recycles a fixed set.
//!   Each element carries an age after rcutorture's `rtort_pipe_count`, and
//!   each retire records a grace-period cookie that the token's drop polls.
//!
//! # Pipeline age
//!
//! | age | meaning |
//! | --- | --- |
//! | 0 | published (or about to be) |
//! | 1 | unpublished; the grace period that protects its readers is pending |
//! | 2 | a grace period that started after the unpublish has completed (the writer polled its cookie, or the token was dropped) |
//! | 3.. | one more writer step since (cooling) |
//!
//! A reader inside a read-side section may find its element at age 0 or 1
//! only: age 2 means a grace period ended while the reader still held it.
//! An element is reused only once it is freed and has cooled to
//! [`PIPE_LEN`], so a reader that wrongly outlived its grace period most
//! likely still finds it aged or freed rather than recycled.
//!
//! # The token's own check
//!
//! Readers catch an early free only if one of them holds the element at
//! the wrong moment. The token checks every free: the writer records a
//! cookie taken at the retire ([`Element::set_retire_cookie`]) and the
//! drop polls it with the flavour's `poll_state_synchronize_rcu`. A drop
//! that finds the cookie incomplete ran before any grace period that
//! started at the retire could have ended: an early free, recorded as an
//! [`EarlyDrop`] naming the path that retired the element. Drops are
//! counted per retire path, and apart for tokens never retired.

use crate::state::{Census, ObjectState, FREED};
use rcu_core::GpState;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// The most retire paths whose drops are counted apart (path indices are
/// stored in a `u8`).
pub const MAX_PATHS: usize = 32;

/// The age at which a freed element may be reused, and the last age a
/// histogram needs (ages at or above it count there).
pub const PIPE_LEN: u32 = 10;

/// `retired_by` of an element not retired through a path since its reuse.
const NOT_RETIRED: u8 = u8::MAX;

/// How many early drops are kept in full (all are counted).
const KEPT_EARLY_DROPS: usize = 32;

/// One object readers can reach. Memory stays valid for the arena's life.
#[derive(Debug)]
pub struct Element {
    /// Its index in the arena.
    pub id: usize,
    /// `LIVE`, `RETIRED` or `FREED`.
    state: ObjectState,
    /// Pipeline age (see the module docs).
    age: AtomicU32,
    /// The retire path that last retired it, for failure messages.
    retired_by: AtomicU8,
    /// The cookie the token's drop polls; `None` until it is retired.
    retire_cookie: Mutex<Option<GpState>>,
}

/// What a reader saw of an element at one instant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The pipeline age.
    pub age: u32,
    /// Whether the element was marked freed.
    pub freed: bool,
}

impl Element {
    fn new(id: usize) -> Self {
        Element {
            id,
            state: ObjectState::new(0),
            age: AtomicU32::new(0),
            retired_by: AtomicU8::new(NOT_RETIRED),
            retire_cookie: Mutex::new(None),
        }
    }

    /// The element's state (see [`ObjectState::get`]).
    pub fn state(&self) -> u8 {
        self.state.get()
    }

    /// The element's side-table state now.
    #[inline]
    pub fn observe(&self) -> Observation {
        // Acquire (in `ObjectState::get`) pairs with the Release store of
        // `mark_freed` in the token's drop.
        let freed = self.state.get() == FREED;
        // Relaxed: the age's writers are ordered for readers by the
        // publication (the writer's Release store of the pointer) or by the
        // grace period whose completion they record.
        let age = self.age.load(Ordering::Relaxed);
        Observation { age, freed }
    }

    /// The retire path that last retired it, if any.
    pub fn retired_by(&self) -> Option<usize> {
        // Relaxed: diagnostics only.
        match self.retired_by.load(Ordering::Relaxed) {
            NOT_RETIRED => None,
            p => Some(usize::from(p)),
        }
    }

    /// Writer only: the element was just unpublished and is being retired
    /// through path `path` (age 1).
    pub fn mark_unpublished(&self, path: usize) {
        self.state.mark_retired();
        // Relaxed: as in `observe`; readers that still hold it see 0 or 1.
        self.retired_by.store(u8::try_from(path).unwrap_or(NOT_RETIRED), Ordering::Relaxed);
        self.age.store(1, Ordering::Relaxed);
    }

    /// Writer only: the token's drop must find `cookie` complete.
    pub fn set_retire_cookie(&self, cookie: GpState) {
        *self.retire_cookie.lock().unwrap_or_else(|e| e.into_inner()) = Some(cookie);
    }

    fn retire_cookie(&self) -> Option<GpState> {
        *self.retire_cookie.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writer only: a grace period that started after the unpublish has
    /// completed (1 → 2; nothing if the token's drop got there first).
    pub fn mark_grace_period_elapsed(&self) {
        // Relaxed: the grace period's own barriers (seen through the
        // cookie's poll) order it after the readers it waited for.
        let _ = self.age.compare_exchange(1, 2, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Writer only: one more step in the pipeline for an element past its
    /// first grace period, up to [`PIPE_LEN`].
    pub fn cool(&self) {
        // Relaxed: as in `mark_grace_period_elapsed`. Only the writer adds
        // beyond 2, so load-then-add cannot lose a step; the token's drop
        // only raises the age to 2 (fetch_max), never lowers it.
        let a = self.age.load(Ordering::Relaxed);
        if (2..PIPE_LEN).contains(&a) {
            self.age.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Freed and cooled: the writer may reuse it.
    pub fn is_reusable(&self) -> bool {
        let o = self.observe();
        o.freed && o.age >= PIPE_LEN
    }

    /// Writer only: makes a reusable element fresh (live, age 0) before it
    /// is published again; the publishing Release store orders these
    /// stores before any reader can reach it.
    pub fn recycle(&self) {
        self.state.mark_live();
        // Relaxed: published by the writer's Release store, as above.
        self.age.store(0, Ordering::Relaxed);
        self.retired_by.store(NOT_RETIRED, Ordering::Relaxed);
        *self.retire_cookie.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A token dropped before the grace period of its retire completed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EarlyDrop {
    /// The element's id.
    pub id: usize,
    /// The retire path that retired it.
    pub path: Option<usize>,
    /// The cookie that had not completed.
    pub cookie: GpState,
}

/// A fixed pool of elements with their states and counters.
#[derive(Debug)]
pub struct Arena {
    elements: Box<[Element]>,
    next: AtomicU64,
    census: Census,
    /// The flavour's `poll_state_synchronize_rcu`, for the token's check.
    poll: Option<fn(GpState) -> bool>,
    dropped_by_path: [AtomicU64; MAX_PATHS],
    dropped_unretired: AtomicU64,
    early_drops: AtomicU64,
    early: Mutex<Vec<EarlyDrop>>,
}

impl Arena {
    fn leak_with(capacity: usize, poll: Option<fn(GpState) -> bool>) -> &'static Arena {
        Box::leak(Box::new(Arena {
            elements: (0..capacity).map(Element::new).collect(),
            next: AtomicU64::new(0),
            census: Census::new(),
            poll,
            dropped_by_path: [const { AtomicU64::new(0) }; MAX_PATHS],
            dropped_unretired: AtomicU64::new(0),
            early_drops: AtomicU64::new(0),
            early: Mutex::new(Vec::new()),
        }))
    }

    /// An arena of `capacity` elements, leaked so tokens can hold `'static`
    /// references (tests create a few).
    pub fn leak(capacity: usize) -> &'static Arena {
        Self::leak_with(capacity, None)
    }

    /// An arena whose elements are reused ([`Arena::mint`]) and whose
    /// tokens check their retire cookie with `poll` (the flavour's
    /// `poll_state_synchronize_rcu`) when dropped.
    pub fn leak_checked(capacity: usize, poll: fn(GpState) -> bool) -> &'static Arena {
        Self::leak_with(capacity, Some(poll))
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

    /// A new token for element `id`, which the caller reuses (after
    /// [`Element::recycle`], or fresh); counted as created.
    ///
    /// # Panics
    ///
    /// If `id` is out of range.
    pub fn mint(&'static self, id: usize) -> Token {
        assert!(id < self.elements.len(), "token for element {id} of an arena of {}", self.elements.len());
        self.census.count_created();
        Token { arena: self, id }
    }

    /// The element `id`, or `None` for an id no element has (a reader that
    /// finds one read garbage).
    #[inline]
    pub fn get(&self, id: usize) -> Option<&Element> {
        self.elements.get(id)
    }

    /// The element `id`.
    ///
    /// # Panics
    ///
    /// If `id` is out of range.
    pub fn element(&self, id: usize) -> &Element {
        &self.elements[id]
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the arena has no elements.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Tokens created so far.
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

    /// Tokens retired through path `path` and dropped so far.
    pub fn dropped_by_path(&self, path: usize) -> u64 {
        // Relaxed: read after `dropped` (Acquire) or after rcu_barrier.
        self.dropped_by_path.get(path).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Tokens dropped without being retired through a path.
    pub fn dropped_unretired(&self) -> u64 {
        // Relaxed: as in `dropped_by_path`.
        self.dropped_unretired.load(Ordering::Relaxed)
    }

    /// Tokens dropped before the cookie of their retire completed.
    pub fn early_drops(&self) -> u64 {
        // Relaxed: as in `dropped_by_path`.
        self.early_drops.load(Ordering::Relaxed)
    }

    /// The early drops kept since the last call (the first few of all).
    pub fn take_early_drops(&self) -> Vec<EarlyDrop> {
        std::mem::take(&mut *self.early.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record_early_drop(&self, drop: EarlyDrop) {
        // Relaxed: a count read after the run.
        if self.early_drops.fetch_add(1, Ordering::Relaxed) < KEPT_EARLY_DROPS as u64 {
            self.early.lock().unwrap_or_else(|e| e.into_inner()).push(drop);
        }
    }
}

/// Marks its element freed when dropped; this is what a test retires.
/// `Send`, so every deferred path (callbacks, kvfree) can carry it.
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
        let arena = self.arena;
        let e = &arena.elements[self.id];
        // Read before the freed mark: once it is set the writer may recycle
        // the element (and reset both).
        let path = e.retired_by();
        let cookie = e.retire_cookie();
        let early = cookie.filter(|&c| arena.poll.is_some_and(|poll| !poll(c)));
        // Relaxed: the age only ever rises to 2 here; see `Element::cool`.
        e.age.fetch_max(2, Ordering::Relaxed);
        e.state.mark_freed();
        // Relaxed: read after the final rcu_barrier, or after `dropped`.
        match path.and_then(|p| arena.dropped_by_path.get(p)) {
            Some(n) => n.fetch_add(1, Ordering::Relaxed),
            None => arena.dropped_unretired.fetch_add(1, Ordering::Relaxed),
        };
        arena.census.count_dropped();
        if let Some(cookie) = early {
            arena.record_early_drop(EarlyDrop { id: self.id, path, cookie });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{LIVE, RETIRED};

    fn always(_: GpState) -> bool {
        true
    }

    fn never(_: GpState) -> bool {
        false
    }

    #[test]
    fn an_element_goes_through_the_pipeline_and_becomes_reusable_only_when_cooled() {
        let arena = Arena::leak_checked(4, always);
        let e = arena.element(2);
        let token = arena.mint(2);
        assert_eq!(e.observe(), Observation { age: 0, freed: false });
        e.mark_unpublished(3);
        assert_eq!((e.observe().age, e.state()), (1, RETIRED));
        assert_eq!(e.retired_by(), Some(3));
        e.mark_grace_period_elapsed();
        assert_eq!(e.observe().age, 2);
        drop(token);
        assert!(e.observe().freed);
        assert!(!e.is_reusable(), "a freshly freed element must cool first");
        for _ in 2..PIPE_LEN {
            e.cool();
        }
        assert!(e.is_reusable());
        e.cool();
        assert_eq!(e.observe().age, PIPE_LEN, "cooling stops at PIPE_LEN");
        e.recycle();
        assert_eq!((e.observe(), e.state()), (Observation { age: 0, freed: false }, LIVE));
        assert_eq!(e.retired_by(), None);
        assert_eq!((arena.created(), arena.dropped()), (1, 1));
        assert_eq!((arena.dropped_by_path(3), arena.dropped_unretired()), (1, 0));
    }

    #[test]
    fn dropping_a_token_ages_an_unpublished_element_to_two() {
        let arena = Arena::leak_checked(1, always);
        let token = arena.mint(0);
        arena.element(0).mark_unpublished(0);
        drop(token);
        assert_eq!(arena.element(0).observe(), Observation { age: 2, freed: true });
        assert!(arena.get(1).is_none());
    }

    #[test]
    fn a_token_dropped_before_its_retire_cookie_completed_counts_as_an_early_drop() {
        let arena = Arena::leak_checked(2, never);
        drop(arena.mint(0));
        assert_eq!((arena.early_drops(), arena.dropped_unretired()), (0, 1), "an unretired token has no cookie");
        let token = arena.mint(1);
        arena.element(1).mark_unpublished(0);
        arena.element(1).set_retire_cookie(GpState::COMPLETED);
        drop(token);
        assert_eq!((arena.early_drops(), arena.dropped_by_path(0)), (1, 1));
        assert_eq!(arena.take_early_drops(), [EarlyDrop { id: 1, path: Some(0), cookie: GpState::COMPLETED }]);
        assert!(arena.take_early_drops().is_empty(), "taken once");
    }

    #[test]
    fn an_arena_without_a_poll_never_reports_an_early_drop_and_uses_each_element_once() {
        let arena = Arena::leak(2);
        let (e, token) = arena.create();
        e.set_retire_cookie(GpState::COMPLETED);
        token.retire();
        assert_eq!(e.state(), RETIRED);
        drop(token);
        assert_eq!((arena.early_drops(), arena.freed_count(), arena.create().0.id), (0, 1, 1));
    }
}
