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
//! * [`Retire::CellReplace`]: the cell lane publishes through
//!   `RcuCell::replace`, which retires the old value itself.
//!
//! Paths still to come plug in with a line each in [`all_paths`] (and one
//! method in `TortureFlavour`): `call_rcu` (drop the token in the closure),
//! `call_rcu_raw` (a box with an `RcuHead` and the token), `kvfree_rcu`
//! (`Box<Token>`), `kvfree_rcu_vec` (`vec![token]`), and the kvfree emergency
//! branches (the same two with the fault-injection hook making block or head
//! allocation fail, from inside and outside a read-side section).

use crate::board::Board;
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
    fn fail(&self, what: impl std::fmt::Display) {
        self.board.fail(self.name, what);
    }
}

/// How a path retires the element it is given.
pub enum Retire<F: TortureFlavour> {
    /// Pointer lane: drop the token only after a grace period.
    Token(fn(&mut PathCtx<'_, F>, Token)),
    /// Cell lane: publish with `RcuCell::replace`.
    CellReplace,
}

/// One retire path: its name and mechanism.
pub struct RetirePath<F: TortureFlavour> {
    /// Shown in reports and failure messages, and accepted by `--path`.
    pub name: &'static str,
    /// What it does.
    pub retire: Retire<F>,
}

/// Every retire path that exists today.
pub fn all_paths<F: TortureFlavour>() -> Vec<RetirePath<F>> {
    vec![
        RetirePath { name: "synchronize_rcu", retire: Retire::Token(synchronize::<F>) },
        RetirePath { name: "start_poll+poll_state", retire: Retire::Token(start_poll_then_poll::<F>) },
        RetirePath { name: "start_poll+cond_synchronize", retire: Retire::Token(start_poll_then_cond::<F>) },
        RetirePath { name: "get_state+cond_synchronize", retire: Retire::Token(get_state_then_cond::<F>) },
        RetirePath { name: "RcuCell::replace", retire: Retire::CellReplace },
    ]
}

/// Deliberately broken paths, never in the default rotation: they exist to
/// show that the torture test catches what it is meant to catch (its tests
/// and `--sabotage` run them and expect a failure).
pub fn sabotage_paths<F: TortureFlavour>() -> Vec<RetirePath<F>> {
    vec![RetirePath { name: "sabotage:no-grace-period", retire: Retire::Token(drop_at_once::<F>) }]
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
