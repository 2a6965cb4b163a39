//! Grace-period sharing, in its own process so no other test adds grace
//! periods: N concurrent synchronize_rcu callers cost far fewer than N.

use rcu_memb::{read_lock, stats, synchronize_rcu};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn concurrent_callers_share_grace_periods() {
    const CALLERS: usize = 16;
    // A reader holds the first grace period up long enough for every caller
    // to queue behind it.
    let entered = Arc::new(Barrier::new(2));
    let reader = {
        let entered = entered.clone();
        std::thread::spawn(move || {
            let g = read_lock();
            entered.wait();
            std::thread::sleep(Duration::from_millis(100));
            drop(g);
        })
    };
    entered.wait();
    let before = stats();
    let start = Arc::new(Barrier::new(CALLERS));
    let done = Arc::new(AtomicBool::new(false));
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
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    let after = stats();
    let gps = after.grace_periods - before.grace_periods;
    assert_eq!(after.synchronize_calls - before.synchronize_calls, CALLERS as u64);
    assert!(gps <= 3, "{CALLERS} concurrent callers ran {gps} grace periods");
}

#[test]
fn thread_churn_during_grace_periods_reuses_slots() {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                synchronize_rcu();
            }
        })
    };
    for _ in 0..50 {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..100 {
                        drop(read_lock());
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let s = stats();
    assert!(s.registry_capacity <= 64, "200 short-lived threads grew the registry to {}", s.registry_capacity);
    assert!(s.grace_periods > 0);
}
