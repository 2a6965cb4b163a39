//! One grace period: the counter protocol and the pairing of its barriers.
//!
//! Runs with the grace-period lock held (one writer at a time: the global
//! counter has a single writer). `slots` yields every reader slot; slots
//! added while the grace period runs belong to readers that registered after
//! it started, which it need not wait for (see `reader/registry.rs`).
//!
//! # PhaseFlip (memb), after liburcu's `urcu.c`
//!
//! ```text
//! writer                                      reader
//! (caller unpublished the old pointer)
//! B1 heavy barrier ──── pairs with ───────── read_lock: ctr = gp_ctr; light barrier
//!                                               (orders ctr store before data loads)
//! scan 1: wait while any slot ActiveOld
//! fence; gp_ctr ^= PHASE; fence
//! scan 2: wait while any slot ActiveOld
//! B2 heavy barrier ──── pairs with ───────── read_unlock: light barrier; ctr = inactive
//! (caller frees)                                (orders data loads before ctr store)
//! ```
//!
//! B1: a reader whose counter store the scan does not see executes its data
//! loads after B1, so it sees the unpublished state. B2: a reader the scan saw
//! inactive has finished its loads before the caller frees.
//!
//! Why a flip between two scans: a reader can load `gp_ctr`, stall, and store
//! its copy after a scan has passed its slot; its word then carries a stale
//! phase. With one scan per flip, the next grace period's flip would make that
//! stale phase look current and not wait for a reader that may hold a pointer
//! unpublished after it started. Scan 1 waits out every reader whose phase is
//! not the current one, so after the flip the only readers in the old phase
//! are ones scan 2 waits for (liburcu's `synchronize_rcu` argument).
//!
//! # Increment (QSBR), after liburcu's 64-bit `urcu-qsbr.c`
//!
//! ```text
//! writer                                      reader
//! fence                                       quiescent_state:
//! gp_ctr += STEP                                fence  (orders earlier reads before ctr store)
//! fence ─────────────── pairs with ───────────  ctr = gp_ctr
//! scan: wait while any slot ActiveOld           fence  (orders ctr store before later reads
//! fence                                                 and before the waker flag load)
//! ```
//!
//! A reader whose word equals the new counter has passed a quiescent state
//! after the increment, so none of its later reads can see the old pointer.

use crate::reader::{memb, qsbr, Protocol, ReaderSlot, ReaderState};
use crate::stall::StallReporter;
use crate::sync::atomic::{fence, AtomicU64, Ordering};
use crate::sync::spin_hint;
use crossbeam_utils::CachePadded;

/// The reader-visible global counter. (The futex word a writer sleeps on
/// is per reader: `ReaderSlot::waker`.)
#[derive(Debug)]
pub struct GpCounter {
    ctr: CachePadded<AtomicU64>,
}

impl GpCounter {
    /// A counter at its initial value for `protocol`.
    #[cfg(not(loom))]
    pub const fn new(protocol: Protocol) -> Self {
        GpCounter { ctr: CachePadded::new(AtomicU64::new(protocol.initial_gp_ctr())) }
    }

    /// A counter at its initial value for `protocol`.
    #[cfg(loom)]
    pub fn new(protocol: Protocol) -> Self {
        GpCounter { ctr: CachePadded::new(AtomicU64::new(protocol.initial_gp_ctr())) }
    }

    /// The global counter, for reader fast paths. Readers load it `Relaxed`:
    /// their own barrier after storing the copy orders what matters.
    #[inline]
    pub fn ctr(&self) -> &AtomicU64 {
        &self.ctr
    }

    /// Runs one grace period.
    ///
    /// # Safety
    ///
    /// The caller must be the counter's only writer (it holds the
    /// sequence's running state): two concurrent flips would let the second
    /// scan take old-phase readers for current ones.
    pub unsafe fn run<'s, I>(&self, protocol: Protocol, slots: impl Fn() -> I, stall: &StallReporter<'_>)
    where
        I: Iterator<Item = &'s ReaderSlot>,
    {
        let barrier = writer_barrier(protocol);
        // SAFETY: forwarded contract (this counter's only writer).
        unsafe {
            run_protocol(protocol, &self.ctr, crate::sys::heavy_barrier, |gp| {
                self.wait_for_old_readers(protocol, slots(), gp, barrier, stall)
            })
        };
    }

    /// Runs one grace period if every reader it waits for leaves within
    /// `spins` polls of its word (no sleep, no stall report); otherwise
    /// stops, incomplete, and returns `false` (see `run_protocol_until`).
    /// For a caller that may not block (an async waiter's first poll).
    ///
    /// # Safety
    ///
    /// As [`GpCounter::run`].
    pub unsafe fn try_run<'s, I>(&self, protocol: Protocol, slots: impl Fn() -> I, spins: u32) -> bool
    where
        I: Iterator<Item = &'s ReaderSlot>,
    {
        // SAFETY: forwarded contract (this counter's only writer).
        unsafe {
            run_protocol_until(protocol, &self.ctr, crate::sys::heavy_barrier, |gp| {
                slots().all(|slot| {
                    // Relaxed loads of the reader word, as in
                    // `wait_for_old_readers`: the protocol's barriers order them.
                    let settled =
                        || protocol.reader_state(slot.ctr.load(Ordering::Relaxed), gp) != ReaderState::ActiveOld;
                    (0..spins).any(|_| {
                        settled() || {
                            spin_hint();
                            false
                        }
                    }) || settled()
                })
            })
        }
    }

    /// Waits, slot by slot, until no slot is `ActiveOld` against the
    /// current global counter. A slot seen not old stays settled for this
    /// scan: a reader entering later copies the current counter, or loaded
    /// it earlier and is caught by the next scan (PhaseFlip) or does its
    /// loads after the barrier that preceded the scan.
    fn wait_for_old_readers<'s>(
        &self,
        p: Protocol,
        slots: impl Iterator<Item = &'s ReaderSlot>,
        gp: u64,
        writer_barrier: fn(),
        stall: &StallReporter<'_>,
    ) {
        for slot in slots {
            // Relaxed loads of the reader word: ordering comes from the
            // barriers bracketing the scan (see the module docs).
            let is_settled = || p.reader_state(slot.ctr.load(Ordering::Relaxed), gp) != ReaderState::ActiveOld;
            if !is_settled() {
                let mut watch = stall.watch(slot.tid());
                slot.waker().wait_until(is_settled, writer_barrier, &mut watch);
            }
        }
    }
}

/// Runs one grace period of `protocol` on the global counter `ctr`;
/// `wait_for_old(gp)` returns once no reader word is `ActiveOld` against
/// the counter value `gp` (the scans of the module docs). `heavy` is the
/// writer's half of B1 and B2 (PhaseFlip only): the heavy barrier when
/// readers pay a light one, a fence when readers fence themselves
/// (liburcu's mb flavour, `gp/foreign.rs`). Shared by the engine's own
/// slots and foreign readers, which differ only in where their words live,
/// which barrier the readers pay and how a writer sleeps.
///
/// # Safety
///
/// The caller must be `ctr`'s only writer (see [`GpCounter::run`]).
pub(crate) unsafe fn run_protocol(protocol: Protocol, ctr: &AtomicU64, heavy: fn(), mut wait_for_old: impl FnMut(u64)) {
    // SAFETY: forwarded contract.
    unsafe {
        run_protocol_until(protocol, ctr, heavy, |gp| {
            wait_for_old(gp);
            true
        })
    };
}

/// [`run_protocol`], with a `wait_for_old` that may give up (returns
/// `false`): the grace period then stops there, incomplete, and this
/// returns `false`. Nothing it did needs undoing: the counter only ever
/// holds values a reader may copy, and the next grace period, run in full
/// by whoever takes the running state over, is correct from any counter
/// value (it waits for every reader not in its own phase, or not at its
/// own count; see the module docs).
///
/// # Safety
///
/// As [`run_protocol`].
pub(crate) unsafe fn run_protocol_until(
    protocol: Protocol,
    ctr: &AtomicU64,
    heavy: fn(),
    mut wait_for_old: impl FnMut(u64) -> bool,
) -> bool {
    match protocol {
        Protocol::PhaseFlip => {
            // B1: orders the caller's unpublish before the scans; pairs with
            // the reader's barrier after the counter store in read_lock.
            heavy();
            // Relaxed: single writer (lock held); readers load it Relaxed and
            // their barrier ordering is provided by B1/B2 and the fences here.
            let gp = ctr.load(Ordering::Relaxed);
            if !wait_for_old(gp) {
                return false;
            }
            // Orders scan 1's loads before the flip (the flip must not become
            // visible while an old-phase reader is still counted as current);
            // liburcu notes this fence is not formally required but keeps the
            // model simple. Pairs with nothing on the reader side.
            fence(Ordering::SeqCst);
            // Relaxed: as above.
            ctr.store(gp ^ memb::PHASE, Ordering::Relaxed);
            // Orders the flip before scan 2's loads.
            fence(Ordering::SeqCst);
            if !wait_for_old(gp ^ memb::PHASE) {
                return false;
            }
            // B2: orders scan 2's loads (readers seen inactive) before the
            // caller's frees; pairs with the reader's barrier before the
            // counter store in read_unlock.
            heavy();
        }
        Protocol::Increment => {
            // Orders the caller's unpublish before the increment; pairs with
            // the fence after the counter store in quiescent_state.
            fence(Ordering::SeqCst);
            // Relaxed: single writer (lock held).
            let gp = ctr.load(Ordering::Relaxed) + qsbr::STEP;
            ctr.store(gp, Ordering::Relaxed);
            // Orders the increment before the scan's loads: a reader the scan
            // finds current copied the new value, so its later reads come
            // after the unpublish. Pairs with the reader's fence after its store.
            fence(Ordering::SeqCst);
            if !wait_for_old(gp) {
                return false;
            }
            // Orders the scan's loads before the caller's frees; pairs with the
            // fence before the counter store in quiescent_state / offline.
            fence(Ordering::SeqCst);
        }
    }
    true
}

/// The writer's half of the store-buffering pair with a reader's barrier
/// (before it sleeps, and between waits): the heavy barrier for memb (the
/// reader pays only a compiler barrier), a fence for QSBR.
pub(crate) fn writer_barrier(protocol: Protocol) -> fn() {
    match protocol {
        Protocol::PhaseFlip => crate::sys::heavy_barrier,
        Protocol::Increment => qsbr_writer_barrier,
    }
}

/// Whether no reader can be inside a section that began before this call:
/// memb, no slot claimed (an unlock has no fence, so an idle registered
/// reader may still enter with stale loads); QSBR, every slot offline
/// (coming online has a fence). Then a grace period has nothing to wait for
/// and the caller skips it: no barrier, futex or lock. A `true` answer
/// orders the caller's later frees after every departed reader's loads.
pub fn no_reader_to_wait_for<'s>(p: Protocol, slots: impl Iterator<Item = &'s ReaderSlot>) -> bool {
    // Orders the caller's earlier stores (the unpublish) before the loads
    // below; a store-buffering pair with the fence at the end of
    // registration (`Engine::register_current`) and, for QSBR, with the
    // fence after the online store (`ReaderSlot::qsbr_online`): either this
    // check sees the reader, or the reader's later loads see the unpublish.
    fence(Ordering::SeqCst);
    let idle = no_reader_seen(p, slots);
    if idle {
        // Orders the loads above before the caller's frees; pairs with the
        // fence before a departing reader's offline or released word
        // (`ReaderSlot::qsbr_offline`, `Registry::release_reader`).
        fence(Ordering::SeqCst);
    }
    idle
}

/// The scan of [`no_reader_to_wait_for`] without its fences: a hint (it may
/// miss a reader that just arrived, or count one just gone), for a caller
/// that decides only after the fenced check.
pub fn no_reader_seen<'s>(p: Protocol, mut slots: impl Iterator<Item = &'s ReaderSlot>) -> bool {
    // Relaxed loads: a hint here; ordered by the fences around the check in
    // `no_reader_to_wait_for`.
    match p {
        Protocol::PhaseFlip => slots.all(|s| !s.in_use.load(Ordering::Relaxed)),
        Protocol::Increment => slots.all(|s| s.ctr.load(Ordering::Relaxed) == qsbr::OFFLINE),
    }
}

/// The writer's barrier between waits for QSBR readers (the heavy barrier's
/// place in memb): a SeqCst fence, pairing with the fence each reader issues
/// around its quiescent-state store (`ReaderSlot::qsbr_announce`).
fn qsbr_writer_barrier() {
    fence(Ordering::SeqCst);
}
