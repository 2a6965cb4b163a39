//! The reclaim thread: one per flavour, started lazily, runs grace periods
//! that nobody waits for synchronously (polled cookies).
//!
//! It sleeps on a futex event word when it has nothing to do; a requester
//! raises the wanted cookie, bumps the event and wakes it only if it sleeps.

use crate::engine::Engine;
use crate::flavour::Flavour;
use crate::sequence::GpState;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

/// The reclaim thread's shared state.
#[derive(Debug)]
pub struct Reclaimer {
    /// The largest cookie some caller wants completed.
    requested: AtomicU64,
    /// Bumped on every request; the thread sleeps on it.
    event: AtomicU32,
    /// The thread is (about to be) asleep on `event`.
    sleeping: AtomicBool,
    /// The thread has been started in this process.
    started: AtomicBool,
    start_lock: Mutex<()>,
}

impl Reclaimer {
    pub(crate) const fn new() -> Self {
        Reclaimer {
            requested: AtomicU64::new(0),
            event: AtomicU32::new(0),
            sleeping: AtomicBool::new(false),
            started: AtomicBool::new(false),
            start_lock: Mutex::new(()),
        }
    }

    /// Asks the reclaim thread to complete `cookie`. Never blocks.
    pub(crate) fn request_gp<F: Flavour>(&self, engine: &'static Engine<F>, cookie: GpState) {
        // SeqCst: this RMW and the `sleeping` load below form a
        // store-buffering pair with the thread's `sleeping` store and
        // `requested` load in `idle`; all four are SeqCst, so one side sees
        // the other.
        self.requested.fetch_max(cookie.seq(), Ordering::SeqCst);
        self.ensure_started(engine);
        self.kick();
    }

    /// Wakes the thread if it sleeps (or is about to).
    pub(crate) fn kick(&self) {
        // SeqCst: see `request_gp`; the event bump makes a sleep that
        // started with the old event value return at once.
        self.event.fetch_add(1, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            crate::sys::futex_wake(&self.event, 1);
        }
    }

    fn ensure_started<F: Flavour>(&self, engine: &'static Engine<F>) {
        // Acquire pairs with the Release store after a successful spawn.
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let _g = self.start_lock.lock().unwrap_or_else(|e| e.into_inner());
        if !self.started.load(Ordering::Relaxed) {
            std::thread::Builder::new()
                .name(format!("rcu-{}-reclaim", F::NAME))
                .spawn(move || engine.reclaimer.run(engine))
                .unwrap_or_else(|e| {
                    panic!("rcu_{}: cannot start the reclaim thread: {e}", F::NAME)
                });
            self.started.store(true, Ordering::Release);
        }
    }

    fn run<F: Flavour>(&self, engine: &'static Engine<F>) {
        loop {
            // SeqCst: pairs with the RMW in `request_gp` (see there).
            let wanted = GpState::from_seq(self.requested.load(Ordering::SeqCst));
            if !engine.poll(wanted) {
                engine.wait_for(wanted);
                continue;
            }
            self.idle(engine);
        }
    }

    /// Sleeps until the next request.
    fn idle<F: Flavour>(&self, engine: &'static Engine<F>) {
        // SeqCst: see `request_gp`.
        let event = self.event.load(Ordering::SeqCst);
        self.sleeping.store(true, Ordering::SeqCst);
        let wanted = GpState::from_seq(self.requested.load(Ordering::SeqCst));
        if engine.poll(wanted) {
            crate::sys::futex_wait_u32(&self.event, event, None);
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }
}
