//! A loom model of the hand-back of ready kvfree blocks
//! (`rcu-core/src/kvfree/hand_back.rs`): the reclaim thread pushes ready
//! blocks on a slot's `ready` stack; the owner moves the stack to its
//! `draining` list inside its `drain_seq` bracket and drops one object per
//! call there, moving the first block's drop cursor, and unlinks an emptied
//! block with a compare-exchange, counting it inside the bracket; the
//! reclaim thread's `rcu_barrier` pass takes the stack, swaps the
//! `draining` list away, issues its heavy barrier, waits for an even
//! `drain_seq` and drops the rest from the cursors, twice, then finds the
//! count of handed-back objects at zero.
//!
//! An exiting owner leaves `draining` on its slot; the slot's next owner
//! goes on after it (its registration follows the old owner's exit), as
//! one thread's later steps would: the owner thread below stands for both.
//! The cursor moves past an object before its drop, as in the code.
//!
//! The kvfree code itself is not built under loom (its blocks and slots
//! live in `std` statics), so this is the protocol written out with the
//! same operations and orderings, blocks reduced to two object cells and a
//! cursor. The light and heavy barriers are SeqCst fences, as
//! `sys::light_barrier` and `sys::heavy_barrier` are under loom. Checked:
//! every object is dropped exactly once, none is lost, no cursor or object
//! is touched by two threads at once (loom's cells report a data race),
//! and the barrier's one pass leaves nothing behind and returns only after
//! every drop. Four variants leave out one step or weaken one ordering, and must be
//! caught.
//!
//! Run with: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom
//! cargo test -p rcu-core --release --test loom_hand_back`
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

const BLOCKS: usize = 2;
const OBJECTS: usize = 2;
const NULL: usize = usize::MAX;

/// What the model changes, to show the checks can fail.
#[derive(Copy, Clone, PartialEq)]
enum Variant {
    Correct,
    /// The barrier does not wait for the owner's bracket to end after
    /// taking its `draining` list.
    NoBracketWait,
    /// The barrier does one round (misses a list the owner moved from
    /// `ready` meanwhile, and the brackets that use it).
    OneRound,
    /// The bracket's odd store is Relaxed, not Release.
    RelaxedOdd,
    /// The owner unlinks an emptied block with a plain store, not a
    /// compare-exchange (it may put back a list the barrier took).
    StoreUnlink,
}

struct Slot {
    /// Top of the `ready` stack (a block index or NULL).
    ready: AtomicUsize,
    /// First block of the owner's `draining` list (or NULL).
    draining: AtomicUsize,
    /// The owner's drain bracket: odd inside.
    drain_seq: AtomicU32,
    /// Each block's link and drop cursor (objects dropped), written by
    /// whoever owns the block.
    next: [UnsafeCell<usize>; BLOCKS],
    cursor: [UnsafeCell<usize>; BLOCKS],
    /// Each object: times dropped.
    dropped: [[UnsafeCell<u32>; OBJECTS]; BLOCKS],
    in_hand_back: AtomicU64,
    variant: Variant,
}

impl Slot {
    fn new(variant: Variant) -> Arc<Slot> {
        Arc::new(Slot {
            ready: AtomicUsize::new(NULL),
            draining: AtomicUsize::new(NULL),
            drain_seq: AtomicU32::new(0),
            next: [UnsafeCell::new(NULL), UnsafeCell::new(NULL)],
            cursor: [UnsafeCell::new(0), UnsafeCell::new(0)],
            dropped: [[UnsafeCell::new(0), UnsafeCell::new(0)], [UnsafeCell::new(0), UnsafeCell::new(0)]],
            in_hand_back: AtomicU64::new(0),
            variant,
        })
    }

    /// `free_or_hand_back`'s hand-back of block `b` (reclaim thread).
    fn hand_back(&self, b: usize) {
        self.in_hand_back.fetch_add(OBJECTS as u64, Ordering::Relaxed);
        let mut top = self.ready.load(Ordering::Relaxed);
        loop {
            // SAFETY: `b` is this thread's until the exchange publishes it
            // (loom checks the cell's accesses).
            self.next[b].with_mut(|p| unsafe { *p = top });
            match self.ready.compare_exchange(top, b, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(t) => top = t,
            }
        }
    }

    /// `drop_some(b, 1)`: drops the object at `b`'s cursor, if any; returns
    /// whether `b` is now empty. The caller owns `b`.
    fn drop_one(&self, b: usize) -> bool {
        // SAFETY: the caller owns `b` (loom reports a concurrent access).
        let at = self.cursor[b].with(|p| unsafe { *p });
        if at < OBJECTS {
            // SAFETY: as above; the cursor moves past the object first.
            self.cursor[b].with_mut(|p| unsafe { *p = at + 1 });
            // SAFETY: as above.
            self.dropped[b][at].with_mut(|p| unsafe { *p += 1 });
        }
        at + 1 >= OBJECTS
    }

    /// `drain_section`: the owner's bracket around `f`.
    fn bracket<R>(&self, f: impl FnOnce() -> R) -> R {
        let seq = self.drain_seq.load(Ordering::Relaxed);
        // Release: a wait that reads the odd value of a later bracket (the
        // one it waited for is over) is then ordered after that one too
        // (C++20 release sequences hold read-modify-writes only).
        let odd = if self.variant == Variant::RelaxedOdd { Ordering::Relaxed } else { Ordering::Release };
        self.drain_seq.store(seq + 1, odd);
        fence(Ordering::SeqCst); // light_barrier
        let r = f();
        self.drain_seq.store(seq + 2, Ordering::Release);
        r
    }

    /// `take_ready` (owner, at a seal).
    fn take_ready(&self) {
        self.bracket(|| {
            if self.draining.load(Ordering::Relaxed) == NULL {
                let list = self.ready.swap(NULL, Ordering::Acquire);
                // A swap, as in the real code (loom lets a plain store slip
                // between the read and the write of a concurrent swap:
                // tokio-rs/loom#254).
                self.draining.swap(list, Ordering::Relaxed);
            }
        });
    }

    /// `drain_some` (owner, on a `kvfree_rcu` call): the count of an
    /// emptied block it unlinked is subtracted inside the bracket.
    fn drain_step(&self, v: Variant) {
        self.bracket(|| {
            let b = self.draining.load(Ordering::Relaxed);
            if b == NULL || !self.drop_one(b) {
                return;
            }
            // SAFETY: ours inside the bracket.
            let next = self.next[b].with(|p| unsafe { *p });
            let unlinked = if v == Variant::StoreUnlink {
                self.draining.store(next, Ordering::Relaxed);
                true
            } else {
                self.draining.compare_exchange(b, next, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            };
            if unlinked {
                self.in_hand_back.fetch_sub(OBJECTS as u64, Ordering::Release);
            }
        });
    }

    /// `free_list` + `finish_taken` (reclaim thread): drops what is left
    /// of every block of the owned list `first`.
    fn free_list(&self, first: usize) {
        let mut b = first;
        while b != NULL {
            // SAFETY: the list is ours.
            let next = self.next[b].with(|p| unsafe { *p });
            while !self.drop_one(b) {}
            self.in_hand_back.fetch_sub(OBJECTS as u64, Ordering::Release);
            b = next;
        }
    }

    /// `take_back(All)` and the check of `wait_for_hand_backs` (reclaim):
    /// two rounds of (swap `ready`, swap `draining`, heavy barrier, wait
    /// for the bracket, drop the rest). The second catches what a bracket
    /// under way during the first moved from `ready` to `draining`, and
    /// waits for the brackets that went on using that list; brackets that
    /// begin after it find nothing.
    fn barrier(&self, v: Variant) {
        let rounds = if v == Variant::OneRound { 1 } else { 2 };
        for _ in 0..rounds {
            let ready = self.ready.swap(NULL, Ordering::Acquire);
            self.free_list(ready);
            let taken = self.draining.swap(NULL, Ordering::Relaxed);
            fence(Ordering::SeqCst); // heavy_barrier
            if v != Variant::NoBracketWait {
                // wait_for_drain_to_finish
                let seq = self.drain_seq.load(Ordering::Acquire);
                if seq & 1 == 1 {
                    while self.drain_seq.load(Ordering::Acquire) == seq {
                        thread::yield_now();
                    }
                }
            }
            self.free_list(taken);
        }
        assert_eq!(self.in_hand_back.load(Ordering::Acquire), 0, "handed-back objects left after the barrier");
    }
}

fn model(v: Variant) {
    loom::model(move || {
        let slot = Slot::new(v);
        // Block 0 is handed back before the owner's seal.
        slot.hand_back(0);
        let owner = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.take_ready();
                slot.drain_step(v);
                slot.drain_step(v);
                slot.take_ready();
                slot.drain_step(v);
            })
        };
        // The reclaim thread hands back one more, then an rcu_barrier runs.
        slot.hand_back(1);
        slot.barrier(v);
        // After the barrier: every object dropped exactly once (a drop by
        // the owner not ordered before this read is a data race for loom).
        for b in 0..BLOCKS {
            for o in 0..OBJECTS {
                // SAFETY: a read the barrier must have ordered after every
                // drop (loom reports it as a data race otherwise: the check).
                let n = slot.dropped[b][o].with(|p| unsafe { *p });
                assert_eq!(n, 1, "object {o} of block {b} dropped {n} times when the barrier returned");
            }
        }
        owner.join().unwrap();
        assert_eq!(slot.draining.load(Ordering::Relaxed), NULL, "a block left on the draining list");
    });
}

#[test]
fn every_object_is_dropped_once_and_before_the_barrier_returns() {
    model(Variant::Correct);
}

#[test]
#[should_panic]
fn a_barrier_that_does_not_wait_for_the_bracket_races_the_owner() {
    model(Variant::NoBracketWait);
}

#[test]
#[should_panic]
fn a_barrier_of_one_round_misses_a_list_moved_meanwhile() {
    model(Variant::OneRound);
}

#[test]
#[should_panic]
fn an_unlink_by_plain_store_puts_back_a_taken_list() {
    model(Variant::StoreUnlink);
}

#[test]
#[should_panic]
fn a_relaxed_odd_store_lets_a_wait_end_unordered() {
    model(Variant::RelaxedOdd);
}
