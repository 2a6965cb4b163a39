//! The element pool and its side table.
//!
//! Readers only ever reach elements of a [`Pool`], whose memory stays valid
//! for the whole run (the pool is leaked), so checking an element never
//! reads freed memory. What goes through the RCU machinery is a [`Token`]:
//! a small heap value whose `Drop` (run by whatever retire path the writer
//! chose, after the grace period that path promises) marks its element
//! freed. The token's own memory is really freed, so sanitizers and valgrind
//! check the engine's frees as well. This is rcu-testkit's `Arena`/`Token`
//! idea, extended with reuse and a pipeline age.
//!
//! # Pipeline age (after rcutorture's `rtort_pipe_count`)
//!
//! | age | meaning |
//! | --- | --- |
//! | 0 | published (or about to be) |
//! | 1 | unpublished; the grace period that protects its readers is pending |
//! | 2 | a grace period that started after the unpublish has completed: the writer polled the cookie it took right after unpublishing, or the token was dropped |
//! | 3.. | one more writer step since (cooling) |
//!
//! A reader inside a read-side section may find its element at age 0 or 1
//! only: age 2 means a grace period ended while the reader still held the
//! element, which is exactly the bug RCU exists to prevent. An element is
//! reused only once it is freed and has cooled to [`PIPE_LEN`], so a reader
//! that (wrongly) outlived its grace period most likely still finds it aged
//! or freed rather than recycled.
//!
//! # The token's own check
//!
//! Readers catch an early free only if one of them holds the element at
//! the wrong moment. The token checks every free: the writer records a
//! grace-period cookie taken at the retire (no earlier than the unpublish
//! on the pointer lane, just before it on the cell lane) and the token's
//! drop polls it. A drop that finds the cookie incomplete ran before any
//! grace period that started at the retire could have ended: an early free,
//! whoever did it, reported against the path that retired the element.
//!
//! # Accounting
//!
//! Drops are counted per retire path (the element's `retired_by` at the
//! drop) and for tokens never retired (the two values still published at
//! the end of a run), so a leak or a double drop names its path.

use crate::board::Board;
use rcu_core::GpState;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

/// The most retire paths a run can have (path indices are stored in a `u8`
/// and drops are counted per path).
pub const MAX_PATHS: usize = 32;

/// The age at which a freed element may be reused, and the last histogram
/// bucket (ages at or above it are counted there).
pub const PIPE_LEN: u32 = 10;

/// `retired_by` of an element that has not been retired since its reuse.
pub const NOT_RETIRED: u8 = u8::MAX;

/// One object readers can reach, with its side-table state.
#[derive(Debug)]
pub struct Element {
    /// Its index in the pool.
    pub index: usize,
    /// Pipeline age (see the module docs).
    age: AtomicU32,
    /// Set by the token's drop; cleared only when the writer reuses it.
    freed: AtomicBool,
    /// Index of the retire path that last retired it ([`NOT_RETIRED`] if
    /// none since its reuse), for failure messages.
    retired_by: AtomicU8,
    /// The cookie the token's drop polls (see "The token's own check");
    /// `None` until the element is retired.
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
    /// The element's side-table state now.
    #[inline]
    pub fn observe(&self) -> Observation {
        // Acquire pairs with the Release store in `Token::drop`: a reader
        // that finds the element freed sees it after the drop that set it.
        let freed = self.freed.load(Ordering::Acquire);
        // Relaxed: the age is a diagnostic read; its writers' stores are
        // ordered for readers by the publication (Release swap) or by the
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
    /// through path `path`.
    pub(crate) fn mark_unpublished(&self, path: usize) {
        // Relaxed: see `observe`; readers that still hold it may see 0 or 1.
        self.retired_by.store(u8::try_from(path).unwrap_or(NOT_RETIRED), Ordering::Relaxed);
        self.age.store(1, Ordering::Relaxed);
    }

    /// Writer only: the token's drop must find `cookie` complete.
    pub(crate) fn set_retire_cookie(&self, cookie: GpState) {
        *self.retire_cookie.lock().unwrap_or_else(|e| e.into_inner()) = Some(cookie);
    }

    fn retire_cookie(&self) -> Option<GpState> {
        *self.retire_cookie.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writer only: a grace period that started after the unpublish has
    /// completed (1 → 2; no-op if the token's drop got there first).
    pub(crate) fn mark_grace_period_elapsed(&self) {
        // Relaxed: a plain state change; the grace period's own barriers
        // (observed through the cookie's Acquire poll) order it after the
        // readers it waited for.
        let _ = self.age.compare_exchange(1, 2, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Writer only: one more step in the pipeline for an element past its
    /// first grace period.
    pub(crate) fn cool(&self) {
        // Relaxed: as in `mark_grace_period_elapsed`. Only the writer adds
        // beyond 2, so load-then-store cannot lose an increment; the token's
        // drop only raises the age to 2 (fetch_max), never lowers it.
        let a = self.age.load(Ordering::Relaxed);
        if (2..PIPE_LEN).contains(&a) {
            self.age.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Freed and cooled: the writer may reuse it.
    pub(crate) fn is_reusable(&self) -> bool {
        let o = self.observe();
        o.freed && o.age >= PIPE_LEN
    }

    /// Writer only: makes a reusable element fresh (age 0, not freed) before
    /// it is published again. The publishing `Release` store orders these
    /// stores before any reader can reach the element.
    pub(crate) fn recycle(&self) {
        // Relaxed: published by the writer's Release swap of the pointer.
        self.freed.store(false, Ordering::Relaxed);
        self.age.store(0, Ordering::Relaxed);
        self.retired_by.store(NOT_RETIRED, Ordering::Relaxed);
        *self.retire_cookie.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A fixed pool of reusable elements and the create/drop accounting.
#[derive(Debug)]
pub struct Pool {
    elements: Box<[Element]>,
    /// The flavour's `poll_state_synchronize_rcu`, for the token's check.
    poll: fn(GpState) -> bool,
    /// Where early drops are reported (set once the board exists).
    board: OnceLock<&'static Board>,
    created: AtomicU64,
    dropped: AtomicU64,
    dropped_by_path: [AtomicU64; MAX_PATHS],
    dropped_unretired: AtomicU64,
    early_drops: AtomicU64,
}

impl Pool {
    /// A pool of `capacity` fresh elements, leaked so that tokens (which
    /// may be dropped by a reclaim thread, in a callback) can refer to it
    /// with `'static` references. One pool per torture run. `poll` is the
    /// flavour's `poll_state_synchronize_rcu`.
    pub fn leak(capacity: usize, poll: fn(GpState) -> bool) -> &'static Pool {
        let elements = (0..capacity)
            .map(|index| Element {
                index,
                age: AtomicU32::new(0),
                freed: AtomicBool::new(false),
                retired_by: AtomicU8::new(NOT_RETIRED),
                retire_cookie: Mutex::new(None),
            })
            .collect();
        Box::leak(Box::new(Pool {
            elements,
            poll,
            board: OnceLock::new(),
            created: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_by_path: [const { AtomicU64::new(0) }; MAX_PATHS],
            dropped_unretired: AtomicU64::new(0),
            early_drops: AtomicU64::new(0),
        }))
    }

    /// Reports early drops to `board` from now on.
    pub(crate) fn attach(&self, board: &'static Board) {
        let _ = self.board.set(board);
    }

    /// The element at `index`, or `None` for an index no element has (a
    /// reader that finds such an index read garbage).
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Element> {
        self.elements.get(index)
    }

    /// The element at `index`.
    ///
    /// # Panics
    ///
    /// If `index` is out of range (a bug in the torture test itself).
    pub fn element(&self, index: usize) -> &Element {
        &self.elements[index]
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the pool has no elements.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// A new token for the element at `index` (counted as created).
    pub fn mint(&'static self, index: usize) -> Token {
        assert!(index < self.elements.len(), "token for element {index} of a pool of {}", self.elements.len());
        // Relaxed: a counter read after the run's threads are joined.
        self.created.fetch_add(1, Ordering::Relaxed);
        Token { pool: self, index }
    }

    /// Tokens created so far.
    pub fn created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }

    /// Tokens dropped so far.
    pub fn dropped(&self) -> u64 {
        // Acquire pairs with the Release increment in `Token::drop`.
        self.dropped.load(Ordering::Acquire)
    }

    /// Tokens retired through path `path` and dropped so far.
    pub fn dropped_by_path(&self, path: usize) -> u64 {
        // Relaxed: read after `dropped` (Acquire) or after rcu_barrier.
        self.dropped_by_path.get(path).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Tokens dropped without ever being retired (the values still
    /// published when a run ends).
    pub fn dropped_unretired(&self) -> u64 {
        // Relaxed: as in `dropped_by_path`.
        self.dropped_unretired.load(Ordering::Relaxed)
    }

    /// Tokens dropped before the cookie of their retire completed.
    pub fn early_drops(&self) -> u64 {
        // Relaxed: as in `dropped_by_path`.
        self.early_drops.load(Ordering::Relaxed)
    }
}

/// What the writer retires through RCU: dropping it marks its element
/// freed. `Send`, so every deferred path (callbacks, kvfree) can carry it.
#[derive(Debug)]
pub struct Token {
    pool: &'static Pool,
    index: usize,
}

impl Token {
    /// The element's index.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let pool = self.pool;
        let e = &pool.elements[self.index];
        // Read before the freed mark: once it is set the writer may recycle
        // the element (and reset both).
        let path = e.retired_by();
        let cookie = e.retire_cookie();
        let early = cookie.is_some_and(|c| !(pool.poll)(c));
        // Relaxed: the age only ever rises to 2 here; see `Element::cool`.
        e.age.fetch_max(2, Ordering::Relaxed);
        // Release pairs with the Acquire load in `Element::observe`.
        e.freed.store(true, Ordering::Release);
        // Relaxed: read after the final rcu_barrier, or after `dropped`.
        match path.and_then(|p| pool.dropped_by_path.get(p)) {
            Some(n) => n.fetch_add(1, Ordering::Relaxed),
            None => pool.dropped_unretired.fetch_add(1, Ordering::Relaxed),
        };
        // Release pairs with the Acquire load in `Pool::dropped`.
        pool.dropped.fetch_add(1, Ordering::Release);
        if early {
            // Relaxed: a count read after the run.
            pool.early_drops.fetch_add(1, Ordering::Relaxed);
            if let Some(board) = pool.board.get() {
                board.fail(
                    board.path_name(path),
                    format_args!(
                        "the token of element {} was dropped before the grace period of its retire completed (cookie {:?} not reached): an early free",
                        self.index,
                        cookie.unwrap_or(GpState::COMPLETED)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn always(_: GpState) -> bool {
        true
    }

    fn never(_: GpState) -> bool {
        false
    }

    #[test]
    fn an_element_goes_through_the_pipeline_and_becomes_reusable_only_when_cooled() {
        let pool = Pool::leak(4, always);
        let e = pool.element(2);
        let token = pool.mint(2);
        assert_eq!(e.observe(), Observation { age: 0, freed: false });
        e.mark_unpublished(3);
        assert_eq!(e.observe().age, 1);
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
        assert_eq!(e.observe(), Observation { age: 0, freed: false });
        assert_eq!(e.retired_by(), None);
        assert_eq!((pool.created(), pool.dropped()), (1, 1));
        assert_eq!((pool.dropped_by_path(3), pool.dropped_unretired()), (1, 0));
    }

    #[test]
    fn dropping_a_token_ages_an_unpublished_element_to_two() {
        let pool = Pool::leak(1, always);
        let token = pool.mint(0);
        pool.element(0).mark_unpublished(0);
        drop(token);
        assert_eq!(pool.element(0).observe(), Observation { age: 2, freed: true });
        assert!(pool.get(1).is_none());
    }

    #[test]
    fn a_token_dropped_before_its_retire_cookie_completed_counts_as_an_early_drop() {
        let pool = Pool::leak(2, never);
        drop(pool.mint(0));
        assert_eq!((pool.early_drops(), pool.dropped_unretired()), (0, 1), "an unretired token has no cookie to check");
        let token = pool.mint(1);
        pool.element(1).mark_unpublished(0);
        pool.element(1).set_retire_cookie(GpState::COMPLETED);
        drop(token);
        assert_eq!((pool.early_drops(), pool.dropped_by_path(0)), (1, 1));
    }
}
