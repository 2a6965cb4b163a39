//! Polled grace periods for QSBR, and grace-period sharing (this file is its
//! own process, so no other test adds grace periods).

use rcu_qsbr::{
    cond_synchronize_rcu, poll_state_synchronize_rcu, register_thread, start_poll_synchronize_rcu, stats,
    synchronize_rcu,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[test]
fn a_started_poll_completes_on_its_own_and_waits_for_online_threads() {
    let online = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let reader = {
        let (online, release) = (online.clone(), release.clone());
        std::thread::spawn(move || {
            let mut t = register_thread();
            online.wait();
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            t.quiescent_state();
            t.offline();
        })
    };
    online.wait();
    let cookie = start_poll_synchronize_rcu();
    std::thread::sleep(Duration::from_millis(30));
    assert!(!poll_state_synchronize_rcu(cookie), "completed before the online thread's quiescent state");
    release.store(true, Ordering::SeqCst);
    // A liveness bound, not a speed check.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !poll_state_synchronize_rcu(cookie) {
        assert!(Instant::now() < deadline, "the polled grace period never completed");
        std::thread::sleep(Duration::from_micros(100));
    }
    cond_synchronize_rcu(cookie);
    reader.join().unwrap();
}

#[test]
fn concurrent_callers_share_grace_periods() {
    const CALLERS: usize = 16;
    let online = Arc::new(Barrier::new(2));
    let reader = {
        let online = online.clone();
        std::thread::spawn(move || {
            let mut t = register_thread();
            online.wait();
            std::thread::sleep(Duration::from_millis(100));
            t.quiescent_state();
        })
    };
    online.wait();
    let before = stats();
    let start = Arc::new(Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                synchronize_rcu();
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    reader.join().unwrap();
    let after = stats();
    let gps = after.grace_periods - before.grace_periods;
    assert_eq!(after.synchronize_calls - before.synchronize_calls, CALLERS as u64);
    assert!(gps <= 3, "{CALLERS} concurrent callers ran {gps} grace periods");
}
