//! What a retire path is: its name, its weight in the writer's rotation,
//! and how it retires the element just unpublished; and what the writer
//! hands it.
//!
//! * [`Retire::Token`]: the pointer lane published a new element; the path
//!   receives the old element's [`Token`] and must drop it only after a grace
//!   period, by whatever mechanism it tests (waiting, polling, a callback,
//!   a deferred free);
//! * [`Retire::Cell`]: the cell lane publishes through one of `RcuCell`'s
//!   writers ([`CellOp`]: `replace`, `update`, `compare_exchange`, `swap`),
//!   each of which retires the old value itself.
//!
//! Every path keeps both checks meaningful: a token is dropped only by the
//! mechanism under test, after the grace period it promises (so a reader
//! that finds its element freed, or aged 2, saw a real early free), and the
//! token's drop polls the cookie the writer took at the retire (see
//! `rcu_testkit::arena`).

use crate::board::Board;
use rcu_core::RcuFlavour;
use rcu_testkit::arena::Token;
use rcu_testkit::rng::Rng;

/// What the writer hands to a pointer-lane path.
pub struct PathCtx<'a, F: RcuFlavour> {
    /// The writer's registration.
    pub thread: &'a mut F::Thread,
    /// The writer's generator.
    pub rng: &'a mut Rng,
    /// The run's shared state (for failures).
    pub board: &'static Board,
    /// This path's name (for failures).
    pub name: &'static str,
}

impl<F: RcuFlavour> PathCtx<'_, F> {
    /// Records a failure of this path.
    pub fn fail(&self, what: impl std::fmt::Display) {
        self.board.fail(self.name, what);
    }
}

/// How a path retires the element it is given.
pub enum Retire<F: RcuFlavour> {
    /// Pointer lane: drop the token only after a grace period.
    Token(fn(&mut PathCtx<'_, F>, Token)),
    /// Cell lane: publish with one of `RcuCell`'s writers.
    Cell(CellOp),
}

/// How the cell lane publishes (each retires the old value through
/// `kvfree_rcu`, never waiting for a grace period).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CellOp {
    /// `RcuCell::replace`.
    Replace,
    /// `RcuCell::update` (the writer is the cell's only writer: one attempt).
    Update,
    /// `RcuCell::compare_exchange` against the value just loaded.
    CompareExchange,
    /// `RcuCell::swap`, dropping the `Retired` value.
    Swap,
}

/// One retire path: its name and mechanism.
pub struct RetirePath<F: RcuFlavour> {
    /// Shown in reports and failure messages, and accepted by `--path`.
    pub name: &'static str,
    /// Steps through it per round of the rotation.
    pub weight: u32,
    /// What it does.
    pub retire: Retire<F>,
}

/// Names of the paths the report checks engine counters for.
pub mod name {
    /// `call_rcu` with a closure.
    pub const CALL_RCU: &str = "call_rcu";
    /// `call_rcu_raw` with an intrusive head.
    pub const CALL_RCU_RAW: &str = "call_rcu_raw";
    /// Chained callbacks, one `rcu_barrier` per link.
    pub const CHAIN: &str = "call_rcu chain+rcu_barrier";
    /// `kvfree_rcu` of a `Box` (sized, slice or trait object).
    pub const KVFREE_BOX: &str = "kvfree_rcu(Box)";
    /// `kvfree_rcu` of a `Vec` (what the flavour crates' `kvfree_rcu_vec`
    /// calls).
    pub const KVFREE_VEC: &str = "kvfree_rcu_vec";
    /// No block, the caller may block: synchronize then free inline.
    pub const EMERGENCY_SYNCHRONIZE: &str = "kvfree emergency: synchronize";
    /// No block, the caller may not block: the per-thread reserve.
    pub const EMERGENCY_RESERVE: &str = "kvfree emergency: reserve";
    /// `RcuCell::replace` (retires through kvfree_rcu).
    pub const CELL_REPLACE: &str = "RcuCell::replace";
    /// `RcuCell::update` (retires through kvfree_rcu).
    pub const CELL_UPDATE: &str = "RcuCell::update";
    /// `RcuCell::compare_exchange` (retires through kvfree_rcu).
    pub const CELL_COMPARE_EXCHANGE: &str = "RcuCell::compare_exchange";
    /// `RcuCell::swap`, the `Retired` value dropped (through kvfree_rcu).
    pub const CELL_SWAP: &str = "RcuCell::swap";
    /// Every cell-lane path.
    pub const CELL_PATHS: [&str; 4] = [CELL_REPLACE, CELL_UPDATE, CELL_COMPARE_EXCHANGE, CELL_SWAP];
    /// What churn threads leave pending when they exit (not a retire path
    /// of the writer; named in failures).
    pub const CHURN: &str = "churn";
    /// The callback flood (not a retire path of the writer; named in
    /// failures).
    pub const FLOOD: &str = "flood";
    /// The hand-off readers, whose sections end on a partner thread (not a
    /// retire path; named in failures of the readers themselves).
    pub const HANDOFF: &str = "hand-off readers";
    /// The async readers, whose sections are held across `.await` (not a
    /// retire path; named in failures of the readers themselves).
    pub const ASYNC: &str = "async readers";
}
