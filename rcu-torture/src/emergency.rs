//! The kvfree emergency branches, driven by the fault-injection hook
//! (`rcu_core::fault::set_alloc_failure(AllocFailure::Blocks)`: while set,
//! the calling thread finds no cached block and cannot allocate one).
//!
//! The hook only bites when `kvfree_rcu` looks for a new block, which it
//! does when the thread has no open block (or a full one). So each stretch
//! starts with `rcu_barrier`: it seals the writer's partial block (and
//! everyone's) and returns once every block sealed before it has been
//! freed, which also brings back the writer's reserve block if an earlier
//! stretch used it. Then, with the fault set, the writer hands over the
//! retired token (on the synchronize branch, followed by up to three extra
//! objects: [`Retiree`](crate::ledger::Retiree)s of every shape):
//!
//! * **synchronize branch**: the writer may block (memb: outside any
//!   read-side section; QSBR: offline). Each object is freed inline after
//!   a grace period, so the token's element must be marked freed as soon as
//!   `kvfree_rcu` returns, and `kvfree_emergency_synchronize` must have
//!   moved by exactly the number of objects (only the writer injects
//!   faults).
//! * **reserve branch**: the writer may not block (memb: inside a read-side
//!   section; QSBR: online). The token takes the thread's reserve block,
//!   which becomes its open block and is freed after a grace period like
//!   any block; `kvfree_emergency_reserve` must have moved by exactly one.
//!   One object per stretch only: another thread's `rcu_barrier` may
//!   collect a reserve in use (sealed, waiting for a grace period that
//!   waits for this very section), and a second object in the same section
//!   would then abort the process (see `rcu-core/tests/engine_gaps.rs`).
//!   `BlocksAndReserve`, which makes that abort certain, is used only by
//!   the sabotage path below.

use crate::board::Board;
use crate::discipline;
use crate::ledger::Source;
use crate::path::PathCtx;
use rcu_core::fault::{set_alloc_failure, AllocFailure};
use rcu_core::RcuFlavour;
use rcu_testkit::arena::Token;
use rcu_testkit::rng::Rng;

/// The most extra objects in one synchronize-branch stretch.
const MAX_EXTRA: u64 = 3;

/// Block allocation fails on the calling thread while this lives (reset
/// even if the stretch panics).
struct FaultStretch;

impl FaultStretch {
    fn begin() -> Self {
        Self::with(AllocFailure::Blocks)
    }

    fn with(mode: AllocFailure) -> Self {
        set_alloc_failure(mode);
        FaultStretch
    }
}

impl Drop for FaultStretch {
    fn drop(&mut self) {
        set_alloc_failure(AllocFailure::None);
    }
}

/// Hands `n` retirees to `kvfree_rcu`, each in a shape chosen by `rng`.
fn kvfree_extra<F: RcuFlavour>(board: &'static Board, rng: &mut Rng, path: &'static str, n: u64) {
    for _ in 0..n {
        let r = || board.retiree::<F>(Source::Emergency, path);
        match rng.below(4) {
            0 => F::kvfree_rcu(Box::new(r())),
            1 => F::kvfree_rcu(board.retirees::<F>(Source::Emergency, path, 2).into_boxed_slice()),
            2 => F::kvfree_rcu(board.retirees::<F>(Source::Emergency, path, 1 + rng.below(3) as usize)),
            _ => F::kvfree_rcu(Box::new(r()) as Box<dyn Send>),
        }
    }
}

/// No block, and the writer may block: synchronize, then free inline.
pub fn synchronize_branch<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    discipline::barrier::<F>(cx.thread);
    let extra = cx.rng.below(MAX_EXTRA + 1);
    let index = token.id();
    let before = F::stats().kvfree_emergency_synchronize;
    let (board, rng, name) = (cx.board, &mut *cx.rng, cx.name);
    discipline::maybe_reading::<F, _>(cx.thread, false, || {
        let _fault = FaultStretch::begin();
        F::kvfree_rcu(Box::new(token));
        if !board.arena.element(index).observe().freed {
            board.fail(
                name,
                format_args!(
                    "kvfree_rcu returned on the emergency synchronize branch (no block, caller may block) \
                     but element {index}'s token was not dropped inline"
                ),
            );
        }
        kvfree_extra::<F>(board, rng, name, extra);
    });
    let moved = F::stats().kvfree_emergency_synchronize - before;
    if moved != 1 + extra {
        cx.fail(format_args!(
            "{} kvfree_rcu call(s) with block allocation failing, from a thread that may block, \
             moved kvfree_emergency_synchronize by {moved}",
            1 + extra
        ));
    }
}

/// No block, and the writer may not block: the per-thread reserve.
pub fn reserve_branch<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    discipline::barrier::<F>(cx.thread);
    let index = token.id();
    let before = F::stats().kvfree_emergency_reserve;
    let (board, name) = (cx.board, cx.name);
    discipline::maybe_reading::<F, _>(cx.thread, true, || {
        let fault = FaultStretch::begin();
        F::kvfree_rcu(Box::new(token));
        drop(fault);
        if board.arena.element(index).observe().freed {
            board.fail(
                name,
                format_args!(
                    "element {index}'s token was dropped while the thread that handed it to kvfree_rcu \
                     is still inside its read-side section"
                ),
            );
        }
    });
    let moved = F::stats().kvfree_emergency_reserve - before;
    if moved != 1 {
        cx.fail(format_args!(
            "kvfree_rcu with block allocation failing, from a thread that may not block, right after \
             rcu_barrier, moved kvfree_emergency_reserve by {moved} (expected 1)"
        ));
    }
}

/// A sabotage path: `kvfree_rcu` inside a read-side section with every
/// block allocation failing, the reserve's included (`BlocksAndReserve`),
/// until the thread's reserve (if it has one: a reused slot keeps its
/// previous owner's) is full. The engine must then abort (its documented
/// answer to memory exhaustion where it may not block), and the torture
/// binary must say which flavour, path and seed died.
pub fn out_of_memory_in_a_section<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    // An empty open block, so the first call looks for a new one.
    discipline::barrier::<F>(cx.thread);
    let (board, name) = (cx.board, cx.name);
    discipline::maybe_reading::<F, _>(cx.thread, true, || {
        let _fault = FaultStretch::with(AllocFailure::BlocksAndReserve);
        F::kvfree_rcu(Box::new(token));
        // A reserve block holds at most 58 one-word objects.
        for _ in 0..100 {
            F::kvfree_rcu(Box::new(board.retiree::<F>(Source::Emergency, name)));
        }
    });
    cx.fail("kvfree_rcu returned 101 times with every block allocation failing inside a read-side section (expected an abort)");
}
