//! Waiting for one reader: adaptive spin, then a futex sleep that the reader
//! wakes when it leaves its critical section.
//!
//! Each reader slot has its own futex word (`ReaderSlot::waker`), so only
//! the reader the writer waits for wakes it. With one shared word (liburcu's
//! `rcu_gp.futex`), every other reader's unlock woke the writer too, and
//! each re-sleep issued another heavy barrier, an IPI to every reader's
//! CPU, many times per memb grace period (BENCHMARKS.md, "Design choices,
//! measured").
//!
//! The writer (one at a time: it holds the grace-period lock) and a reader
//! form a store-buffering pair:
//!
//! ```text
//! writer (wait_until)                 reader (outermost unlock / QS)
//!   flag |= SLEEPING                    ctr = inactive / current
//!   writer barrier  ─── pairs with ───  light barrier / fence
//!   re-read ctr                         read flag; if SLEEPING: clear, wake
//!   futex_wait(flag, flag value)
//! ```
//!
//! At least one side sees the other's store: either the writer sees the
//! reader done and does not sleep, or the reader sees the sleeping bit and
//! wakes it. A
//! plain `SeqCst` store would not order the later load of the other location
//! (liburcu 0.15.0–0.15.5 lost wake-ups this way); the explicit barriers do.

use crate::stall::StallWatch;
use crate::sync::atomic::{AtomicI32, Ordering};
use crate::sync::spin_hint;

/// Bit of the futex word: the writer sleeps (or is about to) on it.
const WRITER_SLEEPING: i32 = 1;
/// Bit of the futex word, set and cleared only by the slot's owner: the slot
/// must be released when its outermost section ends (see `thread.rs`).
/// Kept here so that memb's unlock tests one word for both rare cases.
const TRANSIENT: i32 = 2;

/// Spins this many times (with a pause hint) before yielding and sleeping:
/// a reader section is usually shorter than a futex round trip.
#[cfg(not(loom))]
const ACTIVE_ATTEMPTS: u32 = 100;
/// Under loom a spin is a yield that multiplies the states to explore.
#[cfg(loom)]
const ACTIVE_ATTEMPTS: u32 = 1;

/// The futex word a grace-period writer sleeps on while it waits for one
/// reader.
#[derive(Debug)]
pub struct GpWaker {
    flag: AtomicI32,
    /// Under loom, the futex is emulated with a mutex and a condition
    /// variable, so a lost wake-up shows up as a deadlock the model reports.
    #[cfg(loom)]
    futex: (loom::sync::Mutex<()>, loom::sync::Condvar),
}

impl GpWaker {
    /// A waker with no writer asleep.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        GpWaker { flag: AtomicI32::new(0) }
    }

    /// A waker with no writer asleep.
    #[cfg(loom)]
    pub fn new() -> Self {
        GpWaker { flag: AtomicI32::new(0), futex: (loom::sync::Mutex::new(()), loom::sync::Condvar::new()) }
    }

    /// Reader side: wakes the writer if it sleeps. The caller must already
    /// have stored its new reader word and issued its barrier (light barrier
    /// for memb, fence for QSBR): that barrier orders the word store before
    /// this load and pairs with the writer barrier in `GpWaker::wait_until`.
    /// Returns whether the slot is transient (one load serves both checks
    /// on memb's unlock path).
    #[inline]
    pub fn wake_up_gp(&self) -> bool {
        // Relaxed: ordering comes from the caller's barrier (above).
        let flag = self.flag.load(Ordering::Relaxed);
        if flag == 0 {
            return false;
        }
        self.attention(flag)
    }

    #[cold]
    #[inline(never)]
    fn attention(&self, flag: i32) -> bool {
        if flag & WRITER_SLEEPING != 0 {
            self.wake_cold();
        }
        flag & TRANSIENT != 0
    }

    fn wake_cold(&self) {
        // Relaxed: the writer re-reads the reader word after any wake-up, so
        // clearing the bit only has to prevent repeated syscalls by later
        // unlocks. A read-modify-write keeps the owner's TRANSIENT bit.
        self.flag.fetch_and(!WRITER_SLEEPING, Ordering::Relaxed);
        #[cfg(not(loom))]
        crate::sys::futex_wake(&self.flag, 1);
        #[cfg(loom)]
        {
            let _g = self.futex.0.lock().unwrap();
            self.futex.1.notify_all();
        }
    }

    /// Owner side: marks the slot transient or not (see [`TRANSIENT`]).
    /// A read-modify-write: a writer may set or clear its bit meanwhile.
    #[cfg(not(loom))]
    pub(crate) fn set_transient(&self, transient: bool) {
        // Relaxed: only the owner reads the bit (on its unlock path).
        if transient {
            self.flag.fetch_or(TRANSIENT, Ordering::Relaxed);
        } else {
            self.flag.fetch_and(!TRANSIENT, Ordering::Relaxed);
        }
    }

    /// Owner side: whether the slot is transient.
    #[cfg(not(loom))]
    pub(crate) fn is_transient(&self) -> bool {
        // Relaxed: the owner's own bit.
        self.flag.load(Ordering::Relaxed) & TRANSIENT != 0
    }

    /// `fork()` support, child side: no writer sleeps in the child.
    #[cfg(not(loom))]
    pub(crate) fn reset_after_fork_child(&self) {
        // Relaxed: the child is single-threaded here.
        self.flag.fetch_and(!WRITER_SLEEPING, Ordering::Relaxed);
    }

    /// `fork()` support, child side: a released slot's word starts clean.
    #[cfg(not(loom))]
    pub(crate) fn clear_after_fork_child(&self) {
        // Relaxed: the child is single-threaded here.
        self.flag.store(0, Ordering::Relaxed);
    }

    /// Writer side: returns once `done()` holds. `writer_barrier` is the
    /// flavour's half of the pair (heavy barrier for memb, fence for QSBR).
    /// `watch` prints a stall warning when the wait passes its threshold.
    pub(crate) fn wait_until(&self, mut done: impl FnMut() -> bool, writer_barrier: fn(), watch: &mut StallWatch<'_>) {
        // Spin, then sleep on the futex; no sched_yield phase in between: a
        // yielding writer stays runnable, so on a machine where readers fill
        // every core it waits for a whole time slice instead of being woken
        // by the reader (BENCHMARKS.md, "Design choices, measured").
        let mut attempts = 0u32;
        while !done() {
            attempts = attempts.saturating_add(1);
            if attempts <= ACTIVE_ATTEMPTS {
                spin_hint();
                continue;
            }
            self.sleep_unless(&mut done, writer_barrier, watch);
        }
        if attempts > ACTIVE_ATTEMPTS {
            // A futex wait that returned early (a signal, or the owner
            // toggling TRANSIENT) may leave the bit set although the reader
            // is done: clear it, or its next unlock makes a needless wake
            // syscall. Relaxed: as in `sleep_unless`.
            self.flag.fetch_and(!WRITER_SLEEPING, Ordering::Relaxed);
        }
    }

    /// One futex round: announce the sleep, re-check, sleep.
    fn sleep_unless(&self, done: &mut impl FnMut() -> bool, writer_barrier: fn(), watch: &mut StallWatch<'_>) {
        // Relaxed read-modify-write (it keeps the owner's TRANSIENT bit),
        // ordered before the re-read of reader words by `writer_barrier`;
        // pairs with the reader's barrier in `wake_up_gp`'s caller (see the
        // module docs).
        let expected = self.flag.fetch_or(WRITER_SLEEPING, Ordering::Relaxed) | WRITER_SLEEPING;
        writer_barrier();
        if done() {
            // Relaxed: only this writer sleeps on the flag; a reader that
            // still sees the bit issues one spurious wake-up.
            self.flag.fetch_and(!WRITER_SLEEPING, Ordering::Relaxed);
            return;
        }
        // Returns at once if the word changed since (the reader cleared the
        // bit, or its owner toggled TRANSIENT) and at the next stall
        // warning's time: the caller re-checks either way.
        #[cfg(not(loom))]
        crate::sys::futex_wait_timeout(&self.flag, expected, watch.sleep_budget());
        #[cfg(loom)]
        {
            // The model never reaches a stall threshold.
            let _ = &watch;
            // FUTEX_WAIT's check-and-sleep is atomic against FUTEX_WAKE;
            // the mutex gives the emulation the same property.
            let g = self.futex.0.lock().unwrap();
            // Relaxed: under the emulation's mutex, which the waker takes too.
            if self.flag.load(Ordering::Relaxed) == expected {
                drop(self.futex.1.wait(g).unwrap());
            }
        }
    }
}

impl Default for GpWaker {
    fn default() -> Self {
        Self::new()
    }
}
