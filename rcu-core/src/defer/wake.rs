//! The reclaim thread's doorbell: the word it sleeps on and the state it
//! announces, so that producers issue a wake-up syscall only when it
//! sleeps.
//!
//! Every wake-up is one side of a store-buffering pair: the producer makes
//! its work visible (SeqCst), then loads `sleeping` (SeqCst); the reclaim
//! thread stores `sleeping` (SeqCst), then re-checks every work source
//! (SeqCst) before it sleeps. One side sees the other, so no work is left
//! unseen by a thread that sleeps.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::time::Duration;

/// The thread is running.
pub(crate) const AWAKE: u8 = 0;
/// Asleep until the drain timer fires (or a kick).
pub(crate) const SLEEPING_TIMED: u8 = 1;
/// Asleep until kicked.
pub(crate) const SLEEPING_UNTIMED: u8 = 2;
/// Waiting out the gather window: only urgent kicks wake it.
pub(crate) const GATHERING: u8 = 3;

/// The reclaim thread's sleep word and announced state (one per flavour).
#[derive(Debug)]
pub(crate) struct ReclaimWake {
    /// Bumped to wake the thread; it sleeps on this word.
    event: AtomicU32,
    /// `AWAKE`, or asleep (about to be) on `event`, with or without timer.
    sleeping: AtomicU8,
}

impl ReclaimWake {
    pub(crate) const fn new() -> Self {
        ReclaimWake { event: AtomicU32::new(0), sleeping: AtomicU8::new(AWAKE) }
    }

    /// New work that can wait for the thread's next batch: wakes it only if
    /// it sleeps (a thread waiting out the gather window is left alone).
    pub(crate) fn wake_if_sleeping(&self) {
        // SeqCst: the producer's half of the store-buffering pair (module
        // docs), against the SeqCst `sleeping` store in `announce`.
        let state = self.sleeping.load(Ordering::SeqCst);
        if state == SLEEPING_TIMED || state == SLEEPING_UNTIMED {
            self.kick();
        }
    }

    /// Urgent work: wakes the thread if it sleeps for any reason, gather
    /// window included.
    pub(crate) fn wake_unless_awake(&self) {
        // SeqCst: as in `wake_if_sleeping`; `gather` re-checks urgency
        // after announcing its state.
        if self.sleeping.load(Ordering::SeqCst) != AWAKE {
            self.kick();
        }
    }

    /// A deferral slot got its first object, or a block was sealed while
    /// the backlog is small: a thread asleep without a timer must wake (to
    /// arm the drain timer, or to start the block's grace period); one
    /// asleep with a timer (at most a drain interval) finds the work itself
    /// when it fires. A wake-up syscall from the producer is what this
    /// saves: on two cores the woken thread often preempts the producer.
    pub(crate) fn wake_for_timer(&self) {
        // SeqCst: pairs with the SeqCst `sleeping` store in `announce`,
        // after which `idle` reads `dirty_since` (SeqCst).
        if self.sleeping.load(Ordering::SeqCst) == SLEEPING_UNTIMED {
            self.kick();
        }
    }

    /// Wakes the thread unconditionally.
    pub(crate) fn kick(&self) {
        // SeqCst: a sleeper that read the old event value (`event` below,
        // SeqCst) returns from its futex wait at once.
        self.event.fetch_add(1, Ordering::SeqCst);
        crate::sys::futex_wake(&self.event, 1);
    }

    // ----- the reclaim thread's side ------------------------------------

    /// The event count to sleep on; read before `announce`, so that a kick
    /// after the announcement ends the sleep.
    pub(crate) fn event(&self) -> u32 {
        // SeqCst: pairs with the SeqCst increment in `kick`.
        self.event.load(Ordering::SeqCst)
    }

    /// Announces the thread's state (one of the constants above).
    pub(crate) fn announce(&self, state: u8) {
        // SeqCst: the reclaim thread's half of the store-buffering pair
        // (module docs); AWAKE needs no order (producers may kick spuriously).
        let order = if state == AWAKE { Ordering::Relaxed } else { Ordering::SeqCst };
        self.sleeping.store(state, order);
    }

    /// Sleeps unless `event` has moved, at most `timeout`.
    pub(crate) fn sleep(&self, event: u32, timeout: Option<Duration>) {
        crate::sys::futex_wait_u32(&self.event, event, timeout);
    }

    /// `fork()` child: the thread does not exist here.
    pub(crate) fn reset_after_fork_child(&self) {
        // Relaxed: the child is single-threaded here.
        self.sleeping.store(AWAKE, Ordering::Relaxed);
    }
}
