//! A loom model of the srcu protocol (`rcu_core::srcu`): readers that enter
//! a section on one thread and end it on another, against the writer's
//! grace period (`srcu::grace_period::run_grace_period`), with fences
//! standing in for both barriers. Two variants leave out one of the
//! grace period's waits and must be caught freeing under a reader.
//!
//! Run with: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom
//! cargo test -p rcu-core --release --test loom_srcu`
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rcu_core::srcu::grace_period::{rank_balanced, run_grace_period, run_grace_period_without, SrcuIndex};
use rcu_core::srcu::SrcuSlot;

/// Objects 0..3; `published` names the current one. The writer publishes
/// `n`, runs a grace period, marks `n - 1` freed. Slot 0 is the opener's,
/// slot 1 the thread's that ends the section.
struct World {
    index: SrcuIndex,
    slots: [SrcuSlot; 2],
    published: AtomicUsize,
    freed: [AtomicBool; 3],
}

/// Which grace period the writer runs.
#[derive(Copy, Clone)]
enum Gp {
    Correct,
    /// Leaves out wait 0 (the rank readers do not enter now) or wait 1.
    Without(usize),
}

impl World {
    fn new() -> Arc<World> {
        Arc::new(World {
            index: SrcuIndex::new(),
            slots: [SrcuSlot::new(true), SrcuSlot::new(true)],
            published: AtomicUsize::new(0),
            freed: [AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false)],
        })
    }

    /// Dereferences the published object and checks it is not freed.
    fn read_and_check(&self) -> usize {
        // Acquire: rcu_dereference; pairs with the writer's Release store.
        let i = self.published.load(Ordering::Acquire);
        assert!(!self.freed[i].load(Ordering::Relaxed), "reader reached object {i} after it was freed");
        i
    }

    fn wait_balanced(&self, rank: usize) {
        while !rank_balanced(|| self.slots.iter(), rank) {
            thread::yield_now();
        }
    }

    /// Publishes `next`, waits for a grace period, frees `next - 1`.
    fn replace(&self, next: usize, gp: Gp) {
        self.published.store(next, Ordering::Release);
        // SAFETY: the writer thread is the index's only writer.
        unsafe {
            match gp {
                Gp::Correct => run_grace_period(&self.index, |rank| self.wait_balanced(rank)),
                Gp::Without(wait) => run_grace_period_without(&self.index, wait, |rank| self.wait_balanced(rank)),
            }
        }
        self.freed[next - 1].store(true, Ordering::Relaxed);
    }
}

/// A reader enters on its slot, reads, hands the section to a second
/// thread, which reads and ends it on its own slot; the writer runs one
/// grace period.
fn handed_over_section(gp: Gp) {
    loom::model(move || {
        let w = World::new();
        let opener = {
            let w = w.clone();
            thread::spawn(move || {
                let rank = w.index.current();
                // SAFETY: this model thread owns slot 0.
                unsafe { w.slots[0].enter(rank) };
                let seen = w.read_and_check();
                let closer = {
                    let w = w.clone();
                    thread::spawn(move || {
                        // The pointer read by the opener is still in use.
                        assert!(!w.freed[seen].load(Ordering::Relaxed), "object {seen} freed under its section");
                        w.read_and_check();
                        // SAFETY: this model thread owns slot 1; the section
                        // was entered on `rank` with slot 0.
                        unsafe { w.slots[1].exit_for(&w.slots[0], rank) };
                    })
                };
                closer.join().unwrap();
            })
        };
        w.replace(1, gp);
        opener.join().unwrap();
    });
}

/// A reader that may read the index before the writer's first grace
/// period and enter after it, then reads; the writer runs two.
fn straggler_across_two_grace_periods(gp: Gp) {
    loom::model(move || {
        let w = World::new();
        let reader = {
            let w = w.clone();
            thread::spawn(move || {
                let rank = w.index.current();
                // SAFETY: this model thread owns slot 0.
                unsafe { w.slots[0].enter(rank) };
                w.read_and_check();
                w.read_and_check();
                // SAFETY: as above; entered on `rank` with this slot.
                unsafe { w.slots[0].exit_own(rank) };
            })
        };
        w.replace(1, Gp::Correct);
        w.replace(2, gp);
        reader.join().unwrap();
    });
}

#[test]
fn a_section_ended_on_another_thread_never_sees_its_object_freed() {
    handed_over_section(Gp::Correct);
}

#[test]
fn a_reader_straddling_two_grace_periods_never_sees_its_object_freed() {
    straggler_across_two_grace_periods(Gp::Correct);
}

/// Whether loom finds a reader reaching a freed object in `model`.
fn finds_the_bug(model: impl FnOnce() + std::panic::UnwindSafe) -> bool {
    std::panic::catch_unwind(model).is_err()
}

#[test]
fn without_the_second_wait_the_model_finds_a_free_under_a_reader() {
    assert!(finds_the_bug(|| handed_over_section(Gp::Without(1))), "loom missed the bug of the missing second wait");
}

#[test]
fn without_the_first_wait_the_model_finds_a_free_under_a_straggler() {
    assert!(
        finds_the_bug(|| straggler_across_two_grace_periods(Gp::Without(0))),
        "loom missed the bug of the missing first wait"
    );
}
