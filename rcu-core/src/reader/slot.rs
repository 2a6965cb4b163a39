//! Reader slots and the two counter protocols.
//!
//! A reader announces itself through one word, its slot's `ctr`, written only
//! by the owning thread and read by the grace-period writer. What the word
//! means is the flavour's [`Protocol`]:
//!
//! * [`Protocol::PhaseFlip`] (memb, liburcu's `urcu.c`): the low 32 bits are
//!   the read-side nesting count, bit 32 is the phase the outermost
//!   `read_lock` copied from the global counter. Nesting 0 means inactive.
//! * [`Protocol::Increment`] (QSBR, liburcu's 64-bit `urcu-qsbr.c`): the word
//!   is a copy of the global counter taken at the thread's last quiescent
//!   state (always odd), or 0 while the thread is offline.
//!
//! [`Protocol::reader_state`] judges a reader word against the global one;
//! `gp/grace_period.rs` uses it to decide whom to wait for.

use crate::reader::wait::GpWaker;
use crate::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

/// Counter layout of the membarrier flavour.
pub mod memb {
    /// One level of read-side nesting.
    pub const GP_COUNT: u64 = 1;
    /// The phase bit, flipped once per grace period.
    pub const PHASE: u64 = 1 << 32;
    /// The nesting-count bits of a reader word.
    pub const NEST_MASK: u64 = PHASE - 1;
}

/// Counter layout of the QSBR flavour (64-bit, never wraps in practice).
pub mod qsbr {
    /// The initial global counter; odd, so an online reader word is never 0.
    pub const ONLINE: u64 = 1;
    /// Added to the global counter by each grace period.
    pub const STEP: u64 = 2;
    /// The reader word of an offline (extended quiescent) thread.
    pub const OFFLINE: u64 = 0;
}

/// Which counter protocol a flavour follows (see the module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Phase flip with nesting count: readers pay no fence (memb).
    PhaseFlip,
    /// Counter increment, quiescent states copy it: readers pay nothing,
    /// quiescent states pay a fence (QSBR).
    Increment,
}

/// A reader's state relative to the grace period in progress.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReaderState {
    /// Not in a read-side critical section (memb) / offline (QSBR).
    Inactive,
    /// Active, but started after the current phase began (memb) / has passed
    /// a quiescent state since the grace period began (QSBR).
    ActiveCurrent,
    /// Active since before the current phase: the writer must wait.
    ActiveOld,
}

impl Protocol {
    /// The initial value of the global counter.
    pub const fn initial_gp_ctr(self) -> u64 {
        match self {
            Protocol::PhaseFlip => memb::GP_COUNT,
            Protocol::Increment => qsbr::ONLINE,
        }
    }

    /// Judges reader word `v` against the global counter `gp`.
    #[inline]
    pub fn reader_state(self, v: u64, gp: u64) -> ReaderState {
        match self {
            Protocol::PhaseFlip => {
                if v & memb::NEST_MASK == 0 {
                    ReaderState::Inactive
                } else if (v ^ gp) & memb::PHASE == 0 {
                    ReaderState::ActiveCurrent
                } else {
                    ReaderState::ActiveOld
                }
            }
            Protocol::Increment => {
                if v == qsbr::OFFLINE {
                    ReaderState::Inactive
                } else if v == gp {
                    ReaderState::ActiveCurrent
                } else {
                    ReaderState::ActiveOld
                }
            }
        }
    }

    /// Whether a thread whose reader word is `v` may block for a grace
    /// period: it is not inside a read-side critical section (memb) and not
    /// online (QSBR). Waiting while online would wait for itself.
    #[inline]
    pub fn may_block(self, v: u64) -> bool {
        match self {
            Protocol::PhaseFlip => v & memb::NEST_MASK == 0,
            Protocol::Increment => v == qsbr::OFFLINE,
        }
    }
}

/// One registered reader thread's announcement word, with its bookkeeping.
///
/// Ownership: a slot is claimed by exactly one thread at a time (`in_use`,
/// see `registry.rs` here); only the owner writes `ctr`, `transient` and `tid`.
/// The grace-period writer reads `ctr` of every slot, claimed or not; a free
/// slot's `ctr` is always inactive (0).
#[derive(Debug)]
pub struct ReaderSlot {
    /// The reader word (see the module docs). Written only by the owner.
    pub(crate) ctr: AtomicU64,
    /// Claimed by a thread. Set by `Registry::claim`, cleared by `release`.
    pub(crate) in_use: AtomicBool,
    /// Kernel thread id of the owner, for the hang report.
    pub(crate) tid: AtomicU64,
    /// The futex word a grace-period writer waiting for this reader sleeps
    /// on. Per slot, on the reader's own cache line: only the awaited reader
    /// wakes the writer (a shared word let every other reader's unlock wake
    /// it, and each re-sleep cost the writer another heavy barrier), and the
    /// unlock's check reads a line it owns already.
    pub(crate) waker: GpWaker,
}

impl ReaderSlot {
    /// An unclaimed, inactive slot.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        ReaderSlot {
            ctr: AtomicU64::new(0),
            in_use: AtomicBool::new(false),
            tid: AtomicU64::new(0),
            waker: GpWaker::new(),
        }
    }

    /// An unclaimed, inactive slot.
    #[cfg(loom)]
    pub fn new() -> Self {
        ReaderSlot {
            ctr: AtomicU64::new(0),
            in_use: AtomicBool::new(false),
            tid: AtomicU64::new(0),
            waker: GpWaker::new(),
        }
    }

    /// The stand-in slot of a thread with no slot (see
    /// `thread::ReaderSlotPtr`): its word reads as saturated nesting, so the
    /// memb fast path's nested-overflow check also catches "not registered",
    /// and no test for null is needed. Never written, never scanned.
    #[cfg(not(loom))]
    pub(crate) const fn vacant() -> Self {
        ReaderSlot {
            ctr: AtomicU64::new(memb::NEST_MASK),
            in_use: AtomicBool::new(true),
            tid: AtomicU64::new(0),
            waker: GpWaker::new(),
        }
    }

    /// The reader word, as last written (its owner sees its own writes).
    #[inline]
    pub fn word(&self) -> u64 {
        // Relaxed: a snapshot; callers other than the owner use it only for
        // reports.
        self.ctr.load(Ordering::Relaxed)
    }

    /// Whether this slot was claimed after its thread's TLS destructors ran,
    /// so no destructor will release it: the flavour releases it when the
    /// outermost read-side section ends. Owner-only; a bit of the futex word
    /// (see `wait.rs`), so that memb's unlock tests one word.
    #[cfg(not(loom))]
    #[inline]
    pub fn is_transient(&self) -> bool {
        self.waker.is_transient()
    }

    /// Owner-only: see [`ReaderSlot::is_transient`].
    #[cfg(not(loom))]
    pub(crate) fn set_transient(&self, transient: bool) {
        self.waker.set_transient(transient);
    }

    /// The loom model's registration: what `Registry::claim` and
    /// `Engine::register_current` do to the slot (claim it, then the fence
    /// that orders the claim before the thread's first read-side loads).
    #[cfg(loom)]
    pub fn model_claim(&self) {
        // Acquire, as `Registry::claim`'s compare-exchange.
        assert!(!self.in_use.swap(true, Ordering::Acquire), "model slot claimed twice");
        fence(Ordering::SeqCst);
    }

    /// The owner's kernel thread id (0 when unclaimed).
    pub fn tid(&self) -> u64 {
        self.tid.load(Ordering::Relaxed)
    }

    /// The futex word a writer waiting for this reader sleeps on.
    #[inline]
    pub(crate) fn waker(&self) -> &GpWaker {
        &self.waker
    }
}

/// The reader halves of the two protocols. They live here, beside the
/// writer halves in `gp/grace_period.rs`, so the loom model checks the code the
/// flavours inline into their fast paths.
impl ReaderSlot {
    /// memb `read_lock`: enter a (nested) read-side section. Two plain
    /// accesses and a compiler fence (with membarrier). Returns `false`,
    /// having written nothing, when the nesting count is saturated: the
    /// vacant slot (the thread must register) or 2^32 - 1 nested sections.
    ///
    /// # Safety
    ///
    /// Only the slot's owner thread may call it (any thread for the vacant
    /// slot), with its flavour's global counter.
    #[inline(always)]
    #[must_use]
    pub unsafe fn memb_enter(&self, gp_ctr: &AtomicU64) -> bool {
        // Relaxed: only the owner writes its word.
        let tmp = self.ctr.load(Ordering::Relaxed);
        let nesting = tmp & memb::NEST_MASK;
        if nesting != 0 {
            if nesting == memb::NEST_MASK {
                return false;
            }
            // Nested: the outermost store already announced the section.
            self.ctr.store(tmp + memb::GP_COUNT, Ordering::Relaxed);
            return true;
        }
        // Outermost: copy the global counter (phase + one nesting level).
        // Relaxed load and store; the light barrier orders the store before
        // the section's loads and pairs with the grace period's first heavy
        // barrier (B1 in gp/grace_period.rs).
        let gp = gp_ctr.load(Ordering::Relaxed);
        self.ctr.store(gp, Ordering::Relaxed);
        crate::sys::light_barrier();
        true
    }

    /// memb `read_unlock`: leave a section. Returns whether the slot must be
    /// released now: the outermost section of a transient slot ended.
    ///
    /// # Safety
    ///
    /// Only the owner, matching an earlier `memb_enter` (one per guard).
    #[inline(always)]
    pub unsafe fn memb_exit(&self) -> bool {
        // Relaxed: only the owner writes its word.
        let tmp = self.ctr.load(Ordering::Relaxed);
        if tmp & memb::NEST_MASK == memb::GP_COUNT {
            let barrier = crate::sys::LightBarrier::current();
            // Orders the section's loads before the inactive word; pairs
            // with the grace period's final heavy barrier (B2).
            barrier.issue();
            self.ctr.store(tmp - memb::GP_COUNT, Ordering::Relaxed);
            // Orders the inactive word before the waker-flag load; pairs
            // with the writer barrier in wait.rs (store-buffering pair).
            barrier.issue();
            self.waker.wake_up_gp()
        } else {
            self.ctr.store(tmp - memb::GP_COUNT, Ordering::Relaxed);
            false
        }
    }

    /// QSBR `quiescent_state`: one load and a compare when no grace period
    /// started since the last announcement.
    ///
    /// # Safety
    ///
    /// Only the owner, holding no reference obtained in a read-side section.
    #[inline(always)]
    pub unsafe fn qsbr_quiescent_state(&self, gp_ctr: &AtomicU64) {
        // Relaxed: when equal, no grace period started since this thread's
        // last announcement; one starting right after sees the next one.
        let gp = gp_ctr.load(Ordering::Relaxed);
        if gp != self.ctr.load(Ordering::Relaxed) {
            self.qsbr_announce(gp);
        }
    }

    #[cold]
    #[inline(never)]
    fn qsbr_announce(&self, gp: u64) {
        // Offline stays offline: a quiescent state must not bring the
        // thread online behind its back (0 never equals the odd counter, so
        // offline threads always come here). Relaxed: the owner reads its
        // own word.
        if self.ctr.load(Ordering::Relaxed) == qsbr::OFFLINE {
            return;
        }
        // Orders earlier section reads before the store; pairs with the
        // grace period's final fence (Increment in gp/grace_period.rs).
        fence(Ordering::SeqCst);
        self.ctr.store(gp, Ordering::Relaxed);
        // Orders the store before later reads and before the waker-flag
        // load; pairs with the fence after the increment and with the
        // writer barrier in wait.rs.
        fence(Ordering::SeqCst);
        self.waker.wake_up_gp();
    }

    /// QSBR `offline`: enter an extended quiescent state.
    ///
    /// # Safety
    ///
    /// As [`ReaderSlot::qsbr_quiescent_state`].
    pub unsafe fn qsbr_offline(&self) {
        // Orders earlier section reads before the offline word; pairs with
        // the grace period's final fence.
        fence(Ordering::SeqCst);
        self.ctr.store(qsbr::OFFLINE, Ordering::Relaxed);
        // Orders the offline word before the waker-flag load (store-buffering
        // pair with the writer barrier in wait.rs).
        fence(Ordering::SeqCst);
        self.waker.wake_up_gp();
    }

    /// QSBR `online`: leave the extended quiescent state.
    ///
    /// # Safety
    ///
    /// Only the owner thread.
    pub unsafe fn qsbr_online(&self, gp_ctr: &AtomicU64) {
        // Already online: storing a newer counter here would be a quiescent
        // state without the fence that must precede it. Relaxed: the owner
        // reads its own word.
        if self.ctr.load(Ordering::Relaxed) != qsbr::OFFLINE {
            return;
        }
        // Relaxed load and store; the fence orders the store before every
        // later read and pairs with the fence after the grace period's
        // increment.
        let gp = gp_ctr.load(Ordering::Relaxed);
        self.ctr.store(gp, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }
}

impl Default for ReaderSlot {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn phase_flip_judges_nesting_and_phase() {
        let p = Protocol::PhaseFlip;
        let gp = memb::GP_COUNT;
        assert_eq!(p.reader_state(0, gp), ReaderState::Inactive);
        assert_eq!(p.reader_state(memb::PHASE, gp), ReaderState::Inactive);
        assert_eq!(p.reader_state(gp, gp), ReaderState::ActiveCurrent);
        assert_eq!(p.reader_state(gp + 2, gp), ReaderState::ActiveCurrent);
        assert_eq!(p.reader_state(gp, gp ^ memb::PHASE), ReaderState::ActiveOld);
        assert!(p.may_block(memb::PHASE));
        assert!(!p.may_block(memb::PHASE | 1));
    }

    #[test]
    fn increment_judges_offline_and_snapshot() {
        let p = Protocol::Increment;
        let gp = qsbr::ONLINE + 4 * qsbr::STEP;
        assert_eq!(p.reader_state(qsbr::OFFLINE, gp), ReaderState::Inactive);
        assert_eq!(p.reader_state(gp, gp), ReaderState::ActiveCurrent);
        assert_eq!(p.reader_state(gp - qsbr::STEP, gp), ReaderState::ActiveOld);
        assert!(p.may_block(qsbr::OFFLINE));
        assert!(!p.may_block(gp));
    }
}
