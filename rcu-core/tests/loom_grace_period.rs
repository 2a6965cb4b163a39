//! A loom model of the grace-period core: the reader halves of both
//! protocols (`ReaderSlot::memb_*`, `qsbr_*`) against the writer halves
//! (`GpCounter::run`), with fences standing in for membarrier and the futex
//! emulated so a lost wake-up is a reported deadlock. Each `unsafe` call is
//! made by the slot's one owner thread (or the counter's one writer).
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test -p rcu-core --release --test loom_grace_period`
//! (`LOOM_MAX_PREEMPTIONS` bounds the search; .ci/run uses 3).
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rcu_core::grace_period::GpCounter;
use rcu_core::{Protocol, ReaderSlot};

/// Two objects; `published` names the current one. The writer publishes 1,
/// runs a grace period, then marks 0 freed. A reader that reached 0 must not
/// see it freed before its section ends.
struct World {
    gp: GpCounter,
    slot: ReaderSlot,
    published: AtomicUsize,
    freed: [AtomicBool; 3],
}

impl World {
    fn new(p: Protocol) -> Arc<World> {
        Arc::new(World {
            gp: GpCounter::new(p),
            slot: ReaderSlot::new(),
            published: AtomicUsize::new(0),
            freed: [AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false)],
        })
    }

    fn read_and_check(&self) {
        // Acquire: rcu_dereference; pairs with the writer's Release store.
        let i = self.published.load(Ordering::Acquire);
        assert!(!self.freed[i].load(Ordering::Relaxed), "reader reached object {i} after it was freed");
    }

    /// Publishes object `next`, waits for a grace period, frees `next - 1`.
    fn replace(&self, p: Protocol, next: usize) {
        self.published.store(next, Ordering::Release);
        // SAFETY: the writer thread is the counter's only writer.
        unsafe { self.gp.run(p, || std::iter::once(&self.slot), &rcu_core::stall::StallReporter::off()) };
        self.freed[next - 1].store(true, Ordering::Relaxed);
    }

    fn update(&self, p: Protocol) {
        self.replace(p, 1);
    }

    /// `synchronize_rcu`'s fast path (`Engine::synchronize`): publishes 1,
    /// skips the grace period if no reader could hold it up, frees 0.
    fn update_with_fast_path(&self, p: Protocol) {
        self.published.store(1, Ordering::Release);
        if !rcu_core::grace_period::no_reader_to_wait_for(p, std::iter::once(&self.slot)) {
            // SAFETY: the writer thread is the counter's only writer.
            unsafe { self.gp.run(p, || std::iter::once(&self.slot), &rcu_core::stall::StallReporter::off()) };
        }
        self.freed[0].store(true, Ordering::Relaxed);
    }
}

#[test]
fn memb_fast_path_never_frees_under_a_reader_that_registers_meanwhile() {
    loom::model(|| {
        let w = World::new(Protocol::PhaseFlip);
        let r = {
            let w = w.clone();
            thread::spawn(move || {
                w.slot.model_claim();
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                assert!(unsafe { w.slot.memb_enter(w.gp.ctr()) });
                w.read_and_check();
                // SAFETY: as above.
                unsafe { w.slot.memb_exit() };
            })
        };
        w.update_with_fast_path(Protocol::PhaseFlip);
        r.join().unwrap();
    });
}

#[test]
fn qsbr_fast_path_never_frees_under_a_reader_that_comes_online_meanwhile() {
    loom::model(|| {
        let w = World::new(Protocol::Increment);
        let r = {
            let w = w.clone();
            thread::spawn(move || {
                w.slot.model_claim();
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter.
                unsafe { w.slot.qsbr_online(w.gp.ctr()) };
                w.read_and_check();
                w.read_and_check();
                // SAFETY: as above.
                unsafe { w.slot.qsbr_offline() };
            })
        };
        w.update_with_fast_path(Protocol::Increment);
        r.join().unwrap();
    });
}

#[test]
fn memb_reader_never_sees_a_freed_object() {
    loom::model(|| {
        let w = World::new(Protocol::PhaseFlip);
        let r = {
            let w = w.clone();
            thread::spawn(move || {
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                assert!(unsafe { w.slot.memb_enter(w.gp.ctr()) });
                w.read_and_check();
                w.read_and_check();
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                unsafe { w.slot.memb_exit() };
            })
        };
        w.update(Protocol::PhaseFlip);
        r.join().unwrap();
    });
}

#[test]
fn memb_nested_and_repeated_sections_are_waited_for() {
    loom::model(|| {
        let w = World::new(Protocol::PhaseFlip);
        let r = {
            let w = w.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    // SAFETY: this model thread is the slot's only owner, with the model's
                    // global counter; enter and exit are matched.
                    assert!(unsafe { w.slot.memb_enter(w.gp.ctr()) });
                    // SAFETY: this model thread is the slot's only owner, with the model's
                    // global counter; enter and exit are matched.
                    assert!(unsafe { w.slot.memb_enter(w.gp.ctr()) });
                    // SAFETY: this model thread is the slot's only owner, with the model's
                    // global counter; enter and exit are matched.
                    unsafe { w.slot.memb_exit() };
                    w.read_and_check();
                    // SAFETY: this model thread is the slot's only owner, with the model's
                    // global counter; enter and exit are matched.
                    unsafe { w.slot.memb_exit() };
                }
            })
        };
        w.update(Protocol::PhaseFlip);
        r.join().unwrap();
    });
}

/// Two grace periods in a row: a reader whose counter copy is stale (loaded
/// before a flip, stored after a scan) must still be waited for by the next
/// grace period. This is why PhaseFlip scans twice.
#[test]
fn memb_back_to_back_grace_periods_catch_a_stale_phase() {
    loom::model(|| {
        let w = World::new(Protocol::PhaseFlip);
        let r = {
            let w = w.clone();
            thread::spawn(move || {
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                assert!(unsafe { w.slot.memb_enter(w.gp.ctr()) });
                w.read_and_check();
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                unsafe { w.slot.memb_exit() };
            })
        };
        w.replace(Protocol::PhaseFlip, 1);
        w.replace(Protocol::PhaseFlip, 2);
        r.join().unwrap();
    });
}

#[test]
fn qsbr_reader_never_sees_a_freed_object() {
    loom::model(|| {
        let w = World::new(Protocol::Increment);
        // SAFETY: this model thread is the slot's only owner, with the model's
        // global counter; enter and exit are matched.
        unsafe { w.slot.qsbr_online(w.gp.ctr()) };
        let r = {
            let w = w.clone();
            thread::spawn(move || {
                w.read_and_check();
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                unsafe { w.slot.qsbr_quiescent_state(w.gp.ctr()) };
                w.read_and_check();
                // SAFETY: this model thread is the slot's only owner, with the model's
                // global counter; enter and exit are matched.
                unsafe { w.slot.qsbr_offline() };
            })
        };
        w.update(Protocol::Increment);
        r.join().unwrap();
    });
}
