//! Polled grace periods: cookies complete without anyone calling
//! synchronize_rcu (the reclaim thread drives them), and a cookie is never
//! reported complete while a reader that predates it is still inside.

use rcu_memb::{
    cond_synchronize_rcu, get_state_synchronize_rcu, poll_state_synchronize_rcu, read_lock, start_poll_synchronize_rcu,
    synchronize_rcu, GpState,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    // A liveness bound, not a speed check: far beyond any grace period.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_micros(100));
    }
}

#[test]
fn a_started_poll_completes_on_its_own() {
    let cookie = start_poll_synchronize_rcu();
    wait_until("the polled grace period", || poll_state_synchronize_rcu(cookie));
}

#[test]
fn a_cookie_does_not_complete_while_an_older_reader_is_inside() {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let reader = {
        let (entered, release) = (entered.clone(), release.clone());
        std::thread::spawn(move || {
            let g = read_lock();
            entered.wait();
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(g);
        })
    };
    entered.wait();
    let cookie = start_poll_synchronize_rcu();
    std::thread::sleep(Duration::from_millis(30));
    assert!(!poll_state_synchronize_rcu(cookie), "completed under a reader that predates it");
    release.store(true, Ordering::SeqCst);
    cond_synchronize_rcu(cookie);
    assert!(poll_state_synchronize_rcu(cookie));
    reader.join().unwrap();
}

#[test]
fn get_state_is_satisfied_by_a_later_synchronize() {
    let cookie = get_state_synchronize_rcu();
    synchronize_rcu();
    assert!(poll_state_synchronize_rcu(cookie));
    assert!(poll_state_synchronize_rcu(GpState::COMPLETED));
}
