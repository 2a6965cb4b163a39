//! An async waiter's inline QSBR grace period that gives up (a reader is
//! online and announces nothing) is resumed by the thread that adopts it:
//! a quiescent state announced after the attempt ends it, and the counter
//! moves once. Alone in its test binary: no other grace period may run
//! meanwhile.

use rcu_core::reader::qsbr::STEP;
use rcu_core::Flavour;
use rcu_qsbr::{register_thread, Qsbr};
use std::sync::atomic::Ordering;
use std::sync::mpsc;

#[test]
fn an_inline_grace_period_given_up_is_resumed_not_run_again() {
    let ctr = Qsbr::engine().counter().ctr();
    let (online_tx, online_rx) = mpsc::channel();
    let (announce_tx, announce_rx) = mpsc::channel::<()>();
    let (leave_tx, leave_rx) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut t = register_thread();
        online_tx.send(()).unwrap();
        // Online, announcing nothing, until told; then one quiescent state
        // and online again, announcing nothing, until told to leave. A
        // grace period that starts after that one quiescent state (a
        // second increment) would wait until then: the future would not
        // complete (block_on fails after a minute without a wake-up).
        announce_rx.recv().unwrap();
        t.quiescent_state();
        leave_rx.recv().unwrap();
    });
    online_rx.recv().unwrap();
    // Relaxed: the counter's value, read on the thread whose call below
    // writes it (the inline attempt) or after the future completed (which
    // orders the adopter's grace period before the read).
    let before = ctr.load(Ordering::Relaxed);
    // The inline attempt increments, waits for the silent reader and gives
    // up; the reclaim thread adopts the grace period.
    let wait = rcu_qsbr::synchronize_rcu_async();
    assert_eq!(ctr.load(Ordering::Relaxed), before + STEP, "the inline attempt made the increment");
    announce_tx.send(()).unwrap();
    let ((), _wakes) = rcu_testkit::async_gp::block_on(wait);
    assert_eq!(ctr.load(Ordering::Relaxed), before + STEP, "the adopter resumed the attempt's grace period");
    leave_tx.send(()).unwrap();
    reader.join().unwrap();
}
