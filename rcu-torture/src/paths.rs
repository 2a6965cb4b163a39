//! The retire paths: every way the engine can tell the writer that an
//! unpublished element may be reclaimed.
//!
//! The writer rotates through this table (each round in a seed-determined
//! order), so every path runs against the same readers. A path is a name and
//! what to do with the element just unpublished:
//!
//! * [`Retire::Token`]: the pointer lane published a new element; the path
//!   receives the old element's [`Token`] and must drop it only after a grace
//!   period, by whatever mechanism it tests (waiting, polling, a callback,
//!   a deferred free);
//! * [`Retire::Cell`]: the cell lane publishes through one of `RcuCell`'s
//!   writers ([`CellOp`]: `replace`, `update`, `compare_exchange`, `swap`),
//!   each of which retires the old value itself.
//!
//! Every path keeps both checks meaningful: a token is dropped only by
//! the mechanism under test, after the grace period it promises (so a
//! reader that finds its element freed, or aged 2, saw a real early free),
//! and the token's drop polls the cookie the writer took at the retire
//! (see `pool.rs`). Synchronous and polled paths live here; the deferred
//! ones (`call_rcu`, `call_rcu_raw`, chained callbacks with `rcu_barrier`,
//! `kvfree_rcu` of every shape) in `deferred.rs`; the kvfree emergency
//! branches, driven by the fault-injection hook, in `emergency.rs`.
//!
//! The deferred paths never wait for a grace period, so they run from
//! inside a read-side section (memb) or online (QSBR) half of the time, and
//! outside (offline) otherwise ([`maybe_reading`]).

use crate::board::Board;
use crate::deferred;
use crate::emergency;
use crate::flavour::TortureFlavour;
use crate::pool::Token;
use crate::rng::Rng;
use rcu_core::GpState;
use std::time::Duration;

/// What the writer hands to a pointer-lane path.
pub struct PathCtx<'a, F: TortureFlavour> {
    /// The writer's registration.
    pub thread: &'a mut F::Thread,
    /// The writer's generator.
    pub rng: &'a mut Rng,
    /// The run's shared state (for failures).
    pub board: &'static Board,
    /// This path's name (for failures).
    pub name: &'static str,
}

impl<F: TortureFlavour> PathCtx<'_, F> {
    /// Records a failure of this path.
    pub fn fail(&self, what: impl std::fmt::Display) {
        self.board.fail(self.name, what);
    }
}

/// Runs `f` as a reader (`reading`: memb inside a read-side section, QSBR
/// online) or as a thread that may block (memb outside any section, QSBR
/// offline): the two contexts the engine treats differently.
pub fn maybe_reading<F: TortureFlavour, R>(thread: &mut F::Thread, reading: bool, f: impl FnOnce() -> R) -> R {
    if reading {
        let guard = F::read_lock(thread);
        let r = f();
        drop(guard);
        r
    } else {
        F::blocking(thread, f)
    }
}

/// How a path retires the element it is given.
pub enum Retire<F: TortureFlavour> {
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
pub struct RetirePath<F: TortureFlavour> {
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
    /// `kvfree_rcu_vec` / `kvfree_rcu(Vec)`.
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
}

/// Weight of the paths that wait for a grace period in the writer.
const SYNCHRONOUS: u32 = 2;
/// Weight of the deferred paths that never wait: they are cheap, and they
/// feed the kvfree blocks that the drain timer and full-block sealing need.
const DEFERRED: u32 = 6;
/// Weight of the paths that call `rcu_barrier`, which seals every thread's
/// partial kvfree block: run often, they would leave the drain timer
/// (20 ms) nothing to seal.
const BARRIER: u32 = 1;

/// Every retire path.
pub fn all_paths<F: TortureFlavour>() -> Vec<RetirePath<F>> {
    vec![
        RetirePath { name: "synchronize_rcu", weight: SYNCHRONOUS, retire: Retire::Token(synchronize::<F>) },
        RetirePath {
            name: "start_poll+poll_state",
            weight: SYNCHRONOUS,
            retire: Retire::Token(start_poll_then_poll::<F>),
        },
        RetirePath {
            name: "start_poll+cond_synchronize",
            weight: SYNCHRONOUS,
            retire: Retire::Token(start_poll_then_cond::<F>),
        },
        RetirePath {
            name: "get_state+cond_synchronize",
            weight: SYNCHRONOUS,
            retire: Retire::Token(get_state_then_cond::<F>),
        },
        RetirePath { name: name::CELL_REPLACE, weight: DEFERRED, retire: Retire::Cell(CellOp::Replace) },
        RetirePath { name: name::CELL_UPDATE, weight: DEFERRED, retire: Retire::Cell(CellOp::Update) },
        RetirePath {
            name: name::CELL_COMPARE_EXCHANGE,
            weight: DEFERRED,
            retire: Retire::Cell(CellOp::CompareExchange),
        },
        RetirePath { name: name::CELL_SWAP, weight: DEFERRED, retire: Retire::Cell(CellOp::Swap) },
        RetirePath { name: name::CALL_RCU, weight: DEFERRED, retire: Retire::Token(deferred::call_rcu::<F>) },
        RetirePath { name: name::CALL_RCU_RAW, weight: DEFERRED, retire: Retire::Token(deferred::call_rcu_raw::<F>) },
        RetirePath { name: name::CHAIN, weight: BARRIER, retire: Retire::Token(deferred::chain_and_barrier::<F>) },
        RetirePath { name: name::KVFREE_BOX, weight: DEFERRED, retire: Retire::Token(deferred::kvfree_box::<F>) },
        RetirePath { name: name::KVFREE_VEC, weight: DEFERRED, retire: Retire::Token(deferred::kvfree_vec::<F>) },
        RetirePath {
            name: name::EMERGENCY_SYNCHRONIZE,
            weight: BARRIER,
            retire: Retire::Token(emergency::synchronize_branch::<F>),
        },
        RetirePath {
            name: name::EMERGENCY_RESERVE,
            weight: BARRIER,
            retire: Retire::Token(emergency::reserve_branch::<F>),
        },
    ]
}

/// Deliberately broken paths, never in the default rotation: they exist to
/// show that the torture test catches what it is meant to catch (its tests
/// and `--sabotage` run them and expect a failure).
pub fn sabotage_paths<F: TortureFlavour>() -> Vec<RetirePath<F>> {
    vec![
        RetirePath { name: "sabotage:no-grace-period", weight: 1, retire: Retire::Token(drop_at_once::<F>) },
        RetirePath {
            name: "sabotage:kvfree-out-of-memory",
            weight: 1,
            retire: Retire::Token(emergency::out_of_memory_in_a_section::<F>),
        },
    ]
}

/// Reclaims without waiting for a grace period: the early free RCU exists
/// to prevent.
fn drop_at_once<F: TortureFlavour>(_cx: &mut PathCtx<'_, F>, token: Token) {
    drop(token);
}

/// The names of every path, in table order.
pub fn path_names<F: TortureFlavour>() -> Vec<&'static str> {
    all_paths::<F>().iter().map(|p| p.name).collect()
}

fn synchronize<F: TortureFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    F::synchronize(cx.thread);
    drop(token);
}

/// Polls without ever waiting synchronously: the reclaim thread must drive
/// the grace period.
fn start_poll_then_poll<F: TortureFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let cookie = F::start_poll();
    F::blocking(cx.thread, || {
        while !F::poll(cookie) {
            std::thread::sleep(Duration::from_micros(50));
        }
    });
    drop(token);
}

fn start_poll_then_cond<F: TortureFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let cookie = F::start_poll();
    poll_a_little::<F>(cx.rng, cookie);
    cond_then_drop(cx, cookie, token);
}

/// `get_state` starts nothing: `cond_synchronize` (or some other caller)
/// must run the grace period.
fn get_state_then_cond<F: TortureFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let cookie = F::get_state();
    poll_a_little::<F>(cx.rng, cookie);
    cond_then_drop(cx, cookie, token);
}

/// Gives other threads a chance to complete `cookie` first, so that both
/// branches of `cond_synchronize` (already complete / must wait) run.
fn poll_a_little<F: TortureFlavour>(rng: &mut Rng, cookie: GpState) {
    for _ in 0..rng.below(4) {
        if F::poll(cookie) {
            break;
        }
        std::thread::yield_now();
    }
}

fn cond_then_drop<F: TortureFlavour>(cx: &mut PathCtx<'_, F>, cookie: GpState, token: Token) {
    F::blocking(cx.thread, || F::cond_synchronize(cookie));
    if !F::poll(cookie) {
        cx.fail(format_args!(
            "cond_synchronize_rcu({cookie:?}) returned but poll_state_synchronize_rcu says it is not complete"
        ));
    }
    drop(token);
}
