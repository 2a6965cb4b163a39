//! The retire paths that wait for a grace period in the writer:
//! `synchronize_rcu`, and polling in three styles (the reclaim thread
//! driving the grace period, `cond_synchronize_rcu` after a cookie from
//! `start_poll_synchronize_rcu` or from `get_state_synchronize_rcu`).

use crate::discipline;
use crate::path::PathCtx;
use rcu_core::{GpState, RcuFlavour};
use rcu_testkit::arena::Token;
use rcu_testkit::rng::Rng;
use std::time::Duration;

/// Waits for a grace period in the writer.
pub fn synchronize<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    discipline::synchronize::<F>(cx.thread);
    drop(token);
}

/// Polls without ever waiting synchronously: the reclaim thread must drive
/// the grace period.
pub fn start_poll_then_poll<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let cookie = F::start_poll_synchronize_rcu();
    F::offline_scope(cx.thread, || {
        while !F::poll_state_synchronize_rcu(cookie) {
            std::thread::sleep(Duration::from_micros(50));
        }
    });
    drop(token);
}

/// Polls a little, then `cond_synchronize_rcu`.
pub fn start_poll_then_cond<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let cookie = F::start_poll_synchronize_rcu();
    poll_a_little::<F>(cx.rng, cookie);
    cond_then_drop(cx, cookie, token);
}

/// `get_state` starts nothing: `cond_synchronize` (or some other caller)
/// must run the grace period.
pub fn get_state_then_cond<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let cookie = F::get_state_synchronize_rcu();
    poll_a_little::<F>(cx.rng, cookie);
    cond_then_drop(cx, cookie, token);
}

/// Gives other threads a chance to complete `cookie` first, so that both
/// branches of `cond_synchronize` (already complete / must wait) run.
fn poll_a_little<F: RcuFlavour>(rng: &mut Rng, cookie: GpState) {
    for _ in 0..rng.below(4) {
        if F::poll_state_synchronize_rcu(cookie) {
            break;
        }
        std::thread::yield_now();
    }
}

fn cond_then_drop<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, cookie: GpState, token: Token) {
    F::offline_scope(cx.thread, || F::cond_synchronize_rcu(cookie));
    if !F::poll_state_synchronize_rcu(cookie) {
        cx.fail(format_args!(
            "cond_synchronize_rcu({cookie:?}) returned but poll_state_synchronize_rcu says it is not complete"
        ));
    }
    drop(token);
}
