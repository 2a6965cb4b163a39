//! The callback flood: a thread that queues `call_rcu` callbacks and
//! `kvfree_rcu` objects as fast as it can for a burst, rests, and floods
//! again, while the RSS is sampled against the run's memory ceiling
//! (`ceiling.rs`).
//!
//! What bounds memory is the engine's backpressure: past the hard backlog
//! limit a caller that may block waits until reclaim catches up. So the
//! flood runs where it may block: memb outside any read-side section
//! (registered or not), QSBR offline or unregistered, alternating by burst.
//! (An online QSBR thread or a memb reader inside a section is never
//! throttled, by design; flooding from there would grow without bound.)
//! The run tightens the backlog limits while it lasts ([`FLOOD_LIMITS`]),
//! so the throttle engages within each burst.
//!
//! Every object is a [`Retiree`](crate::ledger::Retiree) (see `ledger.rs`): it checks its grace
//! period when dropped and is counted, so the flood's objects take part in
//! the leak accounting after the final `rcu_barrier`.

use crate::board::Board;
use crate::label::role;
use crate::ledger::Source;
use crate::path::name::FLOOD;
use rcu_core::{CallbackLimits, RcuFlavour};
use rcu_testkit::rng::Rng;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Backlog limits in force while a run has flood threads: low enough that
/// every burst reaches the hard limit and is throttled.
pub const FLOOD_LIMITS: CallbackLimits = CallbackLimits { soft: 2_000, hard: 20_000 };

/// Calls between RSS samples and stop checks.
const SAMPLE_EVERY: u64 = 4096;

/// How a flood thread floods.
#[derive(Copy, Clone, Debug)]
pub struct FloodShape {
    /// Length of one burst.
    pub burst: Duration,
    /// Mean rest between bursts (each rest is drawn from half to one and a
    /// half times this).
    pub rest: Duration,
}

/// A flood thread: bursts until the run stops. With `unbounded` (a
/// self-check), each burst runs inside one read-side section (QSBR:
/// online), where the engine never throttles and no grace period can
/// complete: memory must then grow past the ceiling and fail the run.
pub fn flooder<F: RcuFlavour>(board: &'static Board, index: u64, shape: FloodShape, unbounded: bool) {
    let mut rng = board.label.rng(role::FLOOD, index);
    board.name_this_thread(&format!("flood {index}"));
    // Once the ceiling is broken the run has failed; flooding on would only
    // take memory from the rest of the machine.
    while !board.stopping() && !board.rss.exceeded() {
        if unbounded {
            let thread = F::register_thread();
            let guard = F::read_lock(&thread);
            burst::<F>(board, &mut rng, shape.burst);
            drop(guard);
            F::unregister_thread(thread);
        } else if rng.one_in(2) {
            let mut thread = F::register_thread();
            F::offline_scope(&mut thread, || burst::<F>(board, &mut rng, shape.burst));
            F::unregister_thread(thread);
        } else {
            burst::<F>(board, &mut rng, shape.burst);
        }
        if rng.one_in(4) {
            F::reclaim_now();
        }
        rest(board, &mut rng, shape.rest);
    }
}

/// Sleeps about `mean`, waking early when the run stops.
fn rest(board: &Board, rng: &mut Rng, mean: Duration) {
    let nanos = mean.as_nanos() as u64;
    let until = Instant::now() + Duration::from_nanos(nanos / 2 + rng.below(nanos.max(1)));
    while !board.stopping() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5).min(mean));
    }
}

/// One burst: `call_rcu`, and `kvfree_rcu` of boxes and vectors, as fast
/// as the engine accepts them.
fn burst<F: RcuFlavour>(board: &'static Board, rng: &mut Rng, length: Duration) {
    let end = Instant::now() + length;
    let mut calls = 0u64;
    loop {
        for _ in 0..SAMPLE_EVERY {
            match rng.below(4) {
                0 | 1 => {
                    let r = board.retiree::<F>(Source::FloodCallRcu, FLOOD);
                    F::call_rcu(move || drop(r));
                }
                2 => F::kvfree_rcu(Box::new(board.retiree::<F>(Source::FloodKvfree, FLOOD))),
                _ => F::kvfree_rcu(board.retirees::<F>(Source::FloodKvfree, FLOOD, 1 + rng.below(4) as usize)),
            }
        }
        calls += SAMPLE_EVERY;
        board.sample_rss(FLOOD, "the flood thread");
        if board.stopping() || board.rss.exceeded() || Instant::now() >= end {
            break;
        }
    }
    // Relaxed: statistics.
    board.progress.flood_bursts.fetch_add(1, Ordering::Relaxed);
    board.progress.flood_calls.fetch_add(calls, Ordering::Relaxed);
}
