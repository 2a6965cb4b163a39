//! A loom model of the grace-period sequence's hand-over of an orphaned
//! grace period (`GpSequence`: `complete_if_idle` and `try_run_one`, which
//! may give the running state up, and `begin`, where the next thread
//! adopts it), over the shipping grace period (`GpCounter::run`,
//! `GpCounter::try_run`) and memb reader (`ReaderSlot::memb_*`), composed
//! as the engine composes them (`engine/grace_periods.rs`): an async
//! caller (`synchronize_async`), the reclaim thread it asks for a grace
//! period (`wait_for` of the cookie), a blocking `synchronize` caller and a
//! reader. The leader lock and the followers' futex are loom's (so a lost
//! wake-up is a reported deadlock) and a spin is a yield (so an orphan
//! nobody adopts is a reported livelock).
//!
//! Checked:
//! * safety: a reader that began before a cookie was taken has ended when
//!   `poll(cookie)` returns `true` (the caller frees what it unpublished
//!   then, and the reader asserts it never reaches a freed object);
//! * exactly once: one thread at a time runs a grace period (or an attempt
//!   at one), and at the end `completed()` equals the grace periods that
//!   ran in full (counting an idle completion as one): an orphan adopted
//!   twice, or completed without being run, or a completion that moves
//!   `seq` back, breaks the count;
//! * no caller waits forever: every thread finishes and `seq` ends even
//!   (no orphan is left behind).
//!
//! The bookkeeping of the last two checks (`Ghost`) uses `std`'s atomics,
//! which the model neither schedules nor orders: loom runs one thread at a
//! time, so they record the order it chose without adding synchronisation.
//!
//! Each test also checks that its executions reached both ways of giving
//! the running state up (`Coverage`), so the model cannot pass vacuously.
//!
//! Completing an orphan in `begin` without running it fails both tests
//! (a reader reaches a freed object; the count is off); not adopting fails
//! them as a livelock; adopting without consuming the flag (a load for the
//! swap) fails the count; and with 3 preemptions, the second test found
//! an adopter completing a stale `seq` value (now fixed in `begin`).
//!
//! Run with: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom
//! cargo test -p rcu-core --release --test loom_sequence` (.ci/run does, with
//! the other models): about 25 s of CPU, 20 of them the second test. With 2
//! preemptions it takes a few seconds but misses that stale value.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rcu_core::grace_period::{no_reader_seen, no_reader_to_wait_for, GpCounter};
use rcu_core::stall::StallReporter;
use rcu_core::{GpSequence, GpState, Protocol, ReaderSlot};
use std::sync::atomic as ghost;

const P: Protocol = Protocol::PhaseFlip;

/// Polls of the reader's word an inline grace period spends before it
/// gives up, after its first check (the engine's `INLINE_GP_SPINS` is
/// 100). None here: under loom a spin is a yield, which hands the CPU to
/// the reader at once, so the attempt would almost never give up.
const INLINE_SPINS: u32 = 0;

/// `World::request` before the async caller has said whether it needs the
/// reclaim thread.
const NO_REQUEST_YET: u64 = u64::MAX;

/// Executions, across the whole model, that gave the running state up.
#[derive(Default)]
struct Coverage {
    /// `complete_if_idle` found a reader after its hint.
    idle_orphans: ghost::AtomicUsize,
    /// `try_run_one`'s attempt gave up.
    try_orphans: ghost::AtomicUsize,
}

impl Coverage {
    fn check(&self) {
        let (idle, tried) =
            (self.idle_orphans.load(ghost::Ordering::SeqCst), self.try_orphans.load(ghost::Ordering::SeqCst));
        assert!(idle > 0 && tried > 0, "the model never gave the running state up ({idle} idle, {tried} tried)");
    }
}

/// What the model's checks count, outside the model (see the module docs).
#[derive(Default)]
struct Ghost {
    /// A thread holds the running state and runs (or tries) a grace period.
    running: ghost::AtomicBool,
    /// Grace periods run in full, idle completions included.
    full: ghost::AtomicUsize,
}

/// Objects 0 to 2; `published` names the current one. An update publishes
/// the next one and frees the one before once its cookie is reached.
struct World {
    seq: GpSequence,
    gp: GpCounter,
    slot: ReaderSlot,
    published: AtomicUsize,
    freed: [AtomicBool; 3],
    /// The cookie the async caller asks the reclaim thread to reach
    /// (`Engine::start_poll`'s `request_gp`): `GpState::COMPLETED` for none.
    request: AtomicU64,
    ghost: Ghost,
    coverage: std::sync::Arc<Coverage>,
}

/// Who runs the grace period an async caller could not.
#[derive(Copy, Clone)]
enum Reclaim {
    /// The reclaim thread (`World::reclaim_thread`), asked through `request`.
    Thread,
    /// The caller's own thread, at once, standing in for a reclaim thread
    /// that takes the request up right away (a `wait_for` of the cookie).
    Caller,
}

impl World {
    fn new(coverage: &std::sync::Arc<Coverage>) -> Arc<World> {
        Arc::new(World {
            seq: GpSequence::new(0),
            gp: GpCounter::new(P),
            slot: ReaderSlot::new(),
            published: AtomicUsize::new(0),
            freed: [AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false)],
            request: AtomicU64::new(NO_REQUEST_YET),
            ghost: Ghost::default(),
            coverage: coverage.clone(),
        })
    }

    /// A memb reader: registers, then one section that dereferences the
    /// published object and checks it is not freed.
    fn reader(&self) {
        self.slot.model_claim();
        // SAFETY: the reader thread is the slot's only owner, with the
        // model's global counter; enter and exit are matched.
        assert!(unsafe { self.slot.memb_enter(self.gp.ctr()) });
        // Acquire: rcu_dereference; pairs with the Release store in `update`.
        let i = self.published.load(Ordering::Acquire);
        assert!(!self.freed[i].load(Ordering::Relaxed), "reader reached object {i} after it was freed");
        // SAFETY: as above.
        unsafe { self.slot.memb_exit() };
    }

    /// The grace period now holds the running state (for a grace period or
    /// an attempt): no other thread may.
    fn ghost_begin(&self) {
        assert!(!self.ghost.running.swap(true, ghost::Ordering::SeqCst), "two threads run a grace period at once");
    }

    /// The grace period (or attempt) is over; `full`: it ran to the end.
    fn ghost_end(&self, full: bool) {
        self.ghost.running.store(false, ghost::Ordering::SeqCst);
        if full {
            self.ghost.full.fetch_add(1, ghost::Ordering::SeqCst);
        }
    }

    /// `Engine::run_grace_period`: skipped with no reader to wait for.
    fn run_gp(&self) {
        self.ghost_begin();
        if !no_reader_to_wait_for(P, std::iter::once(&self.slot)) {
            // SAFETY: run only by `GpSequence` while this thread holds the
            // running state: the counter's only writer.
            unsafe { self.gp.run(P, || std::iter::once(&self.slot), &StallReporter::off()) };
        }
        self.ghost_end(true);
    }

    /// `Engine::try_grace_period_inline`'s attempt.
    fn try_gp(&self) -> bool {
        self.ghost_begin();
        // SAFETY: as in `run_gp`.
        let completed = unsafe { self.gp.try_run(P, || std::iter::once(&self.slot), INLINE_SPINS) };
        if !completed {
            self.coverage.try_orphans.fetch_add(1, ghost::Ordering::SeqCst);
        }
        self.ghost_end(completed);
        completed
    }

    /// `Engine::complete_if_idle`; `run_gp` `None` for an async caller.
    fn complete_if_idle(&self, run_gp: Option<&dyn Fn()>) -> bool {
        let seems_idle = || no_reader_seen(P, std::iter::once(&self.slot));
        let idle = || {
            let idle = no_reader_to_wait_for(P, std::iter::once(&self.slot));
            if !idle && run_gp.is_none() {
                self.coverage.idle_orphans.fetch_add(1, ghost::Ordering::SeqCst);
            }
            // Called with the running state held: an idle answer completes
            // the grace period with nothing run.
            if idle {
                self.ghost_begin();
                self.ghost_end(true);
            }
            idle
        };
        self.seq.complete_if_idle(seems_idle, idle, run_gp)
    }

    /// `Engine::synchronize_async` and the await of its future (polled
    /// until ready; a yield between polls). If it could not complete a
    /// grace period itself, `reclaim` runs one.
    fn synchronize_async(&self, reclaim: Reclaim) {
        let mut request = GpState::COMPLETED;
        let cookie = if self.complete_if_idle(None) {
            GpState::COMPLETED
        } else {
            let cookie = self.seq.snapshot();
            if !self.seq.try_run_one(|| self.try_gp()) {
                request = cookie;
            }
            cookie
        };
        match reclaim {
            // Release: the request carries the cookie to the reclaim
            // thread (the engine's request goes through a lock).
            Reclaim::Thread => self.request.store(request.seq(), Ordering::Release),
            Reclaim::Caller => self.seq.wait_for(request, || self.run_gp()),
        }
        while !self.seq.poll(cookie) {
            thread::yield_now();
        }
    }

    /// An async caller's update: publishes `next`, waits, frees `next - 1`.
    fn async_update(&self, next: usize, reclaim: Reclaim) {
        // Release: rcu_assign_pointer; pairs with the reader's Acquire load.
        self.published.store(next, Ordering::Release);
        self.synchronize_async(reclaim);
        self.freed[next - 1].store(true, Ordering::Relaxed);
    }

    /// The reclaim thread: waits for the async caller's request (one), then
    /// for its cookie (`Engine::wait_for`, leading grace periods as needed).
    fn reclaim_thread(&self) {
        let cookie = loop {
            // Acquire: pairs with the Release stores of the request.
            let r = self.request.load(Ordering::Acquire);
            if r != NO_REQUEST_YET {
                break GpState::from_raw(r);
            }
            thread::yield_now();
        };
        self.seq.wait_for(cookie, || self.run_gp());
    }

    /// `Engine::synchronize`: the idle shortcut, else a shared wait for a
    /// fresh cookie. It frees nothing: the blocking path is not what this
    /// model is about, only the grace periods it runs or adopts.
    fn synchronize(&self) {
        if !self.complete_if_idle(Some(&|| self.run_gp())) {
            self.seq.wait_for(self.seq.snapshot(), || self.run_gp());
        }
    }

    /// After every thread has finished: no orphan left, and one completion
    /// per grace period run in full.
    fn check_end(&self) {
        assert!(!self.seq.in_progress(), "a grace period was left running (an orphan nobody adopted)");
        assert_eq!(
            self.seq.completed(),
            self.ghost.full.load(ghost::Ordering::SeqCst) as u64,
            "completions and grace periods run in full differ"
        );
    }
}

fn spawn(w: &Arc<World>, f: fn(&World)) -> thread::JoinHandle<()> {
    let w = w.clone();
    thread::spawn(move || f(&w))
}

/// Runs `body` on every execution of the model, then the checks.
fn model(body: fn(&Arc<World>)) {
    let coverage = std::sync::Arc::new(Coverage::default());
    let c = coverage.clone();
    loom::model(move || {
        let w = World::new(&c);
        body(&w);
        w.check_end();
    });
    coverage.check();
}

/// The async caller finds the reader (at its idle check, or in its inline
/// grace period) and leaves the grace period to the reclaim thread, which
/// adopts it in `begin`.
#[test]
fn the_reclaim_thread_adopts_what_an_async_caller_gave_up() {
    model(|w| {
        let r = spawn(w, World::reader);
        let reclaim = spawn(w, World::reclaim_thread);
        w.async_update(1, Reclaim::Thread);
        r.join().unwrap();
        reclaim.join().unwrap();
    });
}

/// Two async updates in a row (the first may complete at its idle check,
/// before the reader registers; the second may give up), with a blocking
/// caller that may have seen the first's running state and adopts the
/// second's.
#[test]
fn a_blocking_caller_adopts_the_second_of_two_async_grace_periods() {
    model(|w| {
        let r = spawn(w, World::reader);
        let blocking = spawn(w, World::synchronize);
        w.async_update(1, Reclaim::Caller);
        w.async_update(2, Reclaim::Caller);
        r.join().unwrap();
        blocking.join().unwrap();
    });
}
