//! The read-side check every thread runs: one section on the pointer lane
//! with, half of the time, a nested one on the cell lane; and the value the
//! cell lane publishes.
//!
//! What a reader sees of its element at the start and the end of its
//! section goes to `Board::judge`: freed, or aged 2 or more, is an early
//! free.

use crate::board::{Board, Histogram};
use crate::path::name;
use rcu_core::{RcuCell, RcuFlavour};
use rcu_testkit::arena::Token;
use rcu_testkit::rng::Rng;

/// The value the cell lane publishes: an element index and the token that
/// frees the element when the cell drops the value.
#[derive(Debug)]
pub struct CellValue {
    /// The pool index of the published element.
    pub index: usize,
    _token: Token,
}

impl CellValue {
    /// A value publishing the token's element.
    pub fn new(token: Token) -> Self {
        CellValue { index: token.id(), _token: token }
    }
}

/// One read-side section that checks both lanes: the pointer lane in the
/// outer section and, half of the time, the cell lane in a nested one.
pub fn check_one_section<F: RcuFlavour>(
    board: &Board,
    cell: Option<&RcuCell<CellValue, F>>,
    thread: &F::Thread,
    rng: &mut Rng,
    who: &str,
    histogram: &mut Histogram,
) {
    let outer = F::read_lock(thread);
    let element = board.load_pointer();
    let first = element.observe();
    if let Some(cell) = cell.filter(|_| rng.one_in(2)) {
        check_cell_nested::<F>(board, cell, thread, rng, who, histogram);
    }
    spin(rng.below(64));
    let last = element.observe();
    drop(outer);
    board.judge(who, element, first, last, histogram);
}

/// A nested section reading the cell lane.
fn check_cell_nested<F: RcuFlavour>(
    board: &Board,
    cell: &RcuCell<CellValue, F>,
    thread: &F::Thread,
    rng: &mut Rng,
    who: &str,
    histogram: &mut Histogram,
) {
    let inner = F::read_lock(thread);
    // This reads the cell's heap value: if the engine freed it early, this
    // load is itself the use-after-free that sanitizers report; the side
    // table still catches it, because the value's token marks the element
    // freed before the memory is released.
    let index = cell.load(&inner).index;
    let Some(element) = board.arena.get(index) else {
        drop(inner);
        board.fail(name::CELL_REPLACE, format_args!("{who} read element index {index} from the cell: garbage"));
        return;
    };
    let first = element.observe();
    spin(rng.below(32));
    let last = element.observe();
    drop(inner);
    board.judge(who, element, first, last, histogram);
}

fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}
