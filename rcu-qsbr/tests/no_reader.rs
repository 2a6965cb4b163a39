//! `synchronize_rcu` while every registered QSBR thread is offline takes the
//! fast path (rcu-testkit's `no_reader`); with a thread online, it does not.
//! Its own binary: no other test may register readers meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

#[test]
fn synchronize_with_every_reader_offline_takes_the_fast_path() {
    let mut offline = rcu_qsbr::register_thread();
    offline.offline();
    rcu_testkit::no_reader::synchronize_without_readers_takes_the_fast_path(&rcu_testkit::no_reader::Api {
        synchronize: rcu_qsbr::synchronize_rcu,
        stats: rcu_qsbr::stats,
        get_state: rcu_qsbr::get_state_synchronize_rcu,
        poll: rcu_qsbr::poll_state_synchronize_rcu,
    });

    // An online reader that announces quiescent states: a grace period runs.
    let (online, stop) = (Arc::new(Barrier::new(2)), Arc::new(AtomicBool::new(false)));
    let reader = {
        let (online, stop) = (online.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut t = rcu_qsbr::register_thread();
            online.wait();
            // Relaxed: a stop flag; nothing is published through it.
            while !stop.load(Ordering::Relaxed) {
                t.quiescent_state();
                std::thread::yield_now();
            }
        })
    };
    online.wait();
    let before = rcu_qsbr::stats();
    rcu_qsbr::synchronize_rcu();
    let after = rcu_qsbr::stats();
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert!(after.grace_periods > before.grace_periods, "an online reader must get a grace period");
    assert_eq!(after.synchronize_without_readers, before.synchronize_without_readers);
    offline.online();
}
