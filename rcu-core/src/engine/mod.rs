//! The engine of one flavour: the parts below tied together. It owns each
//! part and hands each only the narrow handles it uses (the reclaimer gets
//! [`Parts`]: the deferral slots, the kvfree inbox, the sequence, and a
//! function that waits for a grace period).
//!
//! Each flavour crate owns one `static Engine<ItsFlavour>`; everything here is
//! generic over the flavour ([`FlavourLocals`]) and shared by both.
//!
//! * this file: the struct, its one-time set-up, and the wiring (the
//!   reclaimer's handles, starting its thread, claiming a deferral slot);
//! * `registration.rs`: reader registration and the may-block rule;
//! * `grace_periods.rs`: `synchronize_rcu`, its fast path, polling;
//! * `callbacks.rs`: `call_rcu`, `rcu_barrier`, the callback limits;
//! * `kvfree.rs`: `kvfree_rcu` and what its slow path reports;
//! * `fork.rs`: every part's fork handlers, in order;
//! * `report.rs`: statistics and the state dump.

mod callbacks;
mod fork;
mod grace_periods;
mod kvfree;
mod registration;
mod report;

use crate::defer::deferrals::Deferrals;
use crate::defer::slot::DeferSlot;
use crate::gp::grace_period::GpCounter;
use crate::gp::sequence::GpSequence;
use crate::kvfree::Kvfree;
use crate::reader::registry::Registry;
use crate::reclaim::{Parts, Reclaimer};
use crate::stats::StatCounters;
use crate::sys::lock::ForkSafeMutex;
use crate::thread::FlavourLocals;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Everything one flavour shares across threads.
pub struct Engine<F: FlavourLocals> {
    registry: Registry,
    counter: GpCounter,
    sequence: GpSequence,
    /// The deferral slots, the shared callback queue and the doorbell.
    defer: Deferrals,
    reclaimer: Reclaimer,
    kvfree: Kvfree,
    stats: StatCounters,
    /// One-time set-up done (see `init`).
    initialized: AtomicBool,
    /// 0: fork handlers not registered, 1: being registered, 2: registered.
    fork_handlers: AtomicU8,
    /// Held during set-up; taken by the fork handlers too, so a child never
    /// inherits it held.
    init_lock: ForkSafeMutex<()>,
    _flavour: PhantomData<F>,
}

impl<F: FlavourLocals> std::fmt::Debug for Engine<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("flavour", &F::NAME).field("registry", &self.registry).finish_non_exhaustive()
    }
}

impl<F: FlavourLocals> Engine<F> {
    /// A fresh engine, for the flavour crate's one `static`.
    ///
    /// # Safety
    ///
    /// Create exactly one, as the `static` that `F::engine()` returns: the
    /// engine writes the flavour's thread-locals, which belong to that one.
    pub const unsafe fn new() -> Self {
        Engine {
            registry: Registry::new(),
            counter: GpCounter::new(F::PROTOCOL),
            // Followers spin only where grace periods send no IPIs (see
            // `GpSequence::spin_while_led`).
            sequence: GpSequence::new(match F::PROTOCOL {
                crate::reader::Protocol::Increment => crate::gp::sequence::FOLLOWER_SPINS,
                crate::reader::Protocol::PhaseFlip => 0,
            }),
            defer: Deferrals::new(),
            reclaimer: Reclaimer::new(),
            kvfree: Kvfree::new(),
            stats: StatCounters::new(),
            initialized: AtomicBool::new(false),
            fork_handlers: AtomicU8::new(0),
            init_lock: ForkSafeMutex::new(()),
            _flavour: PhantomData,
        }
    }

    /// The reader-visible global counter and waker (reader fast paths).
    #[inline]
    pub fn counter(&self) -> &GpCounter {
        &self.counter
    }

    /// The grace-period sequence (cookies and polling).
    pub fn sequence(&self) -> &GpSequence {
        &self.sequence
    }

    /// One-time set-up: the fork handlers, then the barrier strategy. The
    /// handlers are registered before anything else is done, so a `fork()`
    /// racing with the set-up runs them, and they wait for it to finish
    /// (a `std::sync::Once` caught mid-call would hang the child).
    #[inline]
    pub(crate) fn init(&'static self) {
        // Acquire pairs with the Release store in `init_slow`.
        if !self.initialized.load(Ordering::Acquire) {
            self.init_slow();
        }
    }

    #[cold]
    fn init_slow(&'static self) {
        // AcqRel/Acquire: the registering thread publishes "registered"
        // with Release; latecomers wait for it before taking the lock.
        match self.fork_handlers.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                F::register_fork_handlers();
                self.fork_handlers.store(2, Ordering::Release);
            }
            Err(_) => {
                let backoff = crossbeam_utils::Backoff::new();
                while self.fork_handlers.load(Ordering::Acquire) != 2 {
                    backoff.snooze();
                }
            }
        }
        let _g = self.init_lock.lock();
        // Relaxed: under the init lock, which orders it with the store below.
        if !self.initialized.load(Ordering::Relaxed) {
            crate::sys::init();
            // Release pairs with the Acquire load in `init`.
            self.initialized.store(true, Ordering::Release);
        }
    }

    // The wiring of the parts below: the handles the reclaimer gets and
    // the start of its thread, and the deferral slot a thread claims.

    /// Claims a deferral slot for the calling thread, unless its thread-local
    /// destructors already ran.
    pub(super) fn register_defer_slot(&'static self) -> Option<&'static DeferSlot> {
        self.init();
        F::thread_key().try_with(|st| st.set_defer_registered()).ok()?;
        let slot = self.defer.claim_slot();
        F::defer_key().with(|c| c.set(slot));
        Some(slot)
    }

    /// The handles the reclaimer works with.
    #[inline]
    pub(super) fn parts(&self) -> Parts<'_> {
        Parts { flavour: F::NAME, defer: &self.defer, kvfree: &self.kvfree, sequence: &self.sequence }
    }

    /// Starts the reclaim thread unless it runs.
    #[inline]
    pub(super) fn ensure_reclaim_thread(&'static self) {
        if !self.reclaimer.is_started() {
            self.start_reclaim_thread();
        }
    }

    /// The reclaim thread's `pthread_t`, starting the thread if needed
    /// (the C ABI's `get_call_rcu_thread`: every `call_rcu_data` names it).
    pub fn reclaim_pthread(&'static self) -> u64 {
        self.ensure_reclaim_thread();
        self.reclaimer.pthread()
    }

    #[cold]
    fn start_reclaim_thread(&'static self) {
        self.init();
        self.reclaimer.start(F::NAME, move || self.reclaimer.run(self.parts(), &|cookie| self.wait_for(cookie)));
    }
}
