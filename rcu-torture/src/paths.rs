//! The table of retire paths: every way the engine can tell the writer
//! that an unpublished element may be reclaimed.
//!
//! The writer rotates through this table (each round in a seed-determined
//! order), so every path runs against the same readers. The synchronous and
//! polled paths are in `synchronous.rs`; the deferred ones (`call_rcu`,
//! `call_rcu_raw`, chained callbacks with `rcu_barrier`, `kvfree_rcu` of
//! every shape) in `deferred.rs`; the kvfree emergency branches, driven by
//! the fault-injection hook, in `emergency.rs`; the cell lane's `RcuCell`
//! writers in the writer itself.
//!
//! The deferred paths never wait for a grace period, so they run from
//! inside a read-side section (QSBR: online) half of the time, and outside
//! (QSBR: offline) otherwise (`discipline::maybe_reading`).

use crate::deferred;
use crate::emergency;
use crate::path::{name, CellOp, PathCtx, Retire, RetirePath};
use crate::synchronous;
use rcu_core::RcuFlavour;
use rcu_testkit::arena::Token;

/// Weight of the paths that wait for a grace period in the writer.
const SYNCHRONOUS: u32 = 2;
/// Weight of the deferred paths that never wait: they are cheap, and they
/// feed the kvfree blocks that the drain timer and full-block sealing need.
const DEFERRED: u32 = 6;
/// Weight of the paths that call `rcu_barrier`, which seals every thread's
/// partial kvfree block: run often, they would leave the drain timer
/// nothing to seal within its interval.
const BARRIER: u32 = 1;

/// Every retire path.
pub fn all_paths<F: RcuFlavour>() -> Vec<RetirePath<F>> {
    vec![
        RetirePath {
            name: "synchronize_rcu",
            weight: SYNCHRONOUS,
            retire: Retire::Token(synchronous::synchronize::<F>),
        },
        RetirePath {
            name: "start_poll+poll_state",
            weight: SYNCHRONOUS,
            retire: Retire::Token(synchronous::start_poll_then_poll::<F>),
        },
        RetirePath {
            name: "start_poll+cond_synchronize",
            weight: SYNCHRONOUS,
            retire: Retire::Token(synchronous::start_poll_then_cond::<F>),
        },
        RetirePath {
            name: "get_state+cond_synchronize",
            weight: SYNCHRONOUS,
            retire: Retire::Token(synchronous::get_state_then_cond::<F>),
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
pub fn sabotage_paths<F: RcuFlavour>() -> Vec<RetirePath<F>> {
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
fn drop_at_once<F: RcuFlavour>(_cx: &mut PathCtx<'_, F>, token: Token) {
    drop(token);
}

/// The names of every path, in table order.
pub fn path_names<F: RcuFlavour>() -> Vec<&'static str> {
    all_paths::<F>().iter().map(|p| p.name).collect()
}
