//! A loom model of the hand-back of ready kvfree blocks
//! (`rcu-core/src/kvfree/hand_back.rs`): the reclaim thread pushes ready
//! blocks on a slot's `ready` stack; the owner takes the stack with one
//! swap, frees a budget of blocks and pushes the rest back; the reclaim
//! thread's `rcu_barrier` pass takes every stack back and waits until the
//! count of handed-back objects is zero.
//!
//! The kvfree code itself is not built under loom (its blocks and slots
//! live in `std` statics), so this is the protocol written out with the
//! same operations and orderings, blocks reduced to a payload cell.
//! Checked: every block is freed exactly once, none is lost, the barrier
//! returns only after every free (loom's cells report a free not ordered
//! before the barrier's check as a data race). Two variants weaken one
//! ordering or leave out one step and must be caught.
//!
//! Run with: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom
//! cargo test -p rcu-core --release --test loom_hand_back`
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

const BLOCKS: usize = 3;
/// Blocks the owner frees per turn (`OWN_FREE_BUDGET`, smaller to keep
/// push-back in the model).
const BUDGET: usize = 1;
const NULL: usize = usize::MAX;

/// What the model changes, to show the checks can fail.
#[derive(Copy, Clone, PartialEq)]
enum Variant {
    Correct,
    /// The owner's subtraction of `in_hand_back` is Relaxed, not Release.
    RelaxedCount,
    /// The barrier does not wait for `in_hand_back` to reach zero.
    NoWait,
}

struct Slot {
    /// Top of the `ready` stack (a block index or NULL).
    ready: AtomicUsize,
    /// Each block's link (written by whoever owns the block).
    next: [UnsafeCell<usize>; BLOCKS],
    /// Each block's objects: times freed.
    freed: [UnsafeCell<u32>; BLOCKS],
    in_hand_back: AtomicU64,
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            ready: AtomicUsize::new(NULL),
            next: [UnsafeCell::new(NULL), UnsafeCell::new(NULL), UnsafeCell::new(NULL)],
            freed: [UnsafeCell::new(0), UnsafeCell::new(0), UnsafeCell::new(0)],
            in_hand_back: AtomicU64::new(0),
        })
    }

    /// `push_on` / `push_back`: pushes the list `first ..= last` (owned).
    fn push(&self, first: usize, last: usize) {
        let mut top = self.ready.load(Ordering::Relaxed);
        loop {
            // SAFETY: `last` is owned by this thread until the exchange
            // publishes it (loom checks the cell's accesses).
            self.next[last].with_mut(|p| unsafe { *p = top });
            match self.ready.compare_exchange(top, first, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(t) => top = t,
            }
        }
    }

    /// `free_or_hand_back`'s hand-back of block `b` (reclaim thread).
    fn hand_back(&self, b: usize) {
        self.in_hand_back.fetch_add(1, Ordering::Relaxed);
        self.push(b, b);
    }

    /// Frees block `b` (owned): its objects, then the count.
    fn free(&self, b: usize, count: Ordering) {
        // SAFETY: the caller swapped `b` off the stack, so owns it (loom
        // reports any concurrent access to the cell).
        self.freed[b].with_mut(|p| unsafe { *p += 1 });
        self.in_hand_back.fetch_sub(1, count);
    }

    /// `free_own_ready` (owner).
    fn owner_turn(&self, v: Variant) {
        let count = if v == Variant::RelaxedCount { Ordering::Relaxed } else { Ordering::Release };
        let mut b = self.ready.swap(NULL, Ordering::Acquire);
        let mut done = 0;
        while b != NULL {
            if done == BUDGET {
                let mut last = b;
                loop {
                    // SAFETY: the list was swapped off the stack: ours.
                    let n = self.next[last].with(|p| unsafe { *p });
                    if n == NULL {
                        break;
                    }
                    last = n;
                }
                self.push(b, last);
                return;
            }
            // SAFETY: swapped off the stack: ours.
            let n = self.next[b].with(|p| unsafe { *p });
            self.free(b, count);
            done += 1;
            b = n;
        }
    }

    /// `take_back(All)` then the wait of `wait_for_hand_backs` (reclaim).
    fn barrier(&self, v: Variant) {
        loop {
            let mut b = self.ready.swap(NULL, Ordering::Acquire);
            while b != NULL {
                // SAFETY: swapped off the stack: ours.
                let n = self.next[b].with(|p| unsafe { *p });
                self.free(b, Ordering::Release);
                b = n;
            }
            if v == Variant::NoWait || self.in_hand_back.load(Ordering::Acquire) == 0 {
                return;
            }
            thread::yield_now();
        }
    }
}

fn model(v: Variant) {
    loom::model(move || {
        let slot = Slot::new();
        // Block 0 is handed back before the owner runs.
        slot.hand_back(0);
        let owner = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.owner_turn(v);
                slot.owner_turn(v);
            })
        };
        // The reclaim thread hands back two more, then an rcu_barrier runs.
        slot.hand_back(1);
        slot.hand_back(2);
        slot.barrier(v);
        // After the barrier: every block freed exactly once (a free by the
        // owner not ordered before this read is a data race for loom).
        for b in 0..BLOCKS {
            // SAFETY: a read the barrier must have ordered after every free
            // (loom reports it as a data race otherwise: the check).
            let n = slot.freed[b].with(|p| unsafe { *p });
            assert_eq!(n, 1, "block {b} freed {n} times when the barrier returned");
        }
        owner.join().unwrap();
    });
}

#[test]
fn every_block_is_freed_once_and_before_the_barrier_returns() {
    model(Variant::Correct);
}

#[test]
#[should_panic]
fn a_relaxed_count_lets_the_barrier_miss_a_free() {
    model(Variant::RelaxedCount);
}

#[test]
#[should_panic]
fn a_barrier_that_does_not_wait_misses_the_owners_frees() {
    model(Variant::NoWait);
}
