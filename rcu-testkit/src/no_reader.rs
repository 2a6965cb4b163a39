//! `synchronize_rcu` with no reader to wait for returns at once: it
//! completes an empty grace period itself (no barrier, futex or lock
//! hand-off) and is counted as such; with a reader registered, it runs a
//! real grace period. Needs a process where no other thread registers
//! meanwhile, so it runs in a process of its own.

use rcu_core::RcuFlavour;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

/// The whole scenario: no reader registered; for a flavour whose threads go
/// offline (QSBR), a registered thread inside `offline_scope` too; then a
/// registered reader that announces quiescent states, which the fast path
/// must not skip.
pub fn synchronize_without_readers_takes_the_fast_path<F: RcuFlavour>() {
    fast_path_while_idle::<F>();
    if F::NEEDS_QUIESCENT_STATES {
        let mut offline = F::register_thread();
        F::offline_scope(&mut offline, fast_path_while_idle::<F>);
        F::unregister_thread(offline);
    }
    if <F as rcu_core::FlavourLocals>::srcu_readers().is_some() {
        // srcu: a reader between sections leaves both ranks balanced,
        // which is itself the proof a grace period needs; one inside a
        // section must not be skipped.
        an_open_section_gets_a_grace_period::<F>();
    } else {
        a_registered_reader_gets_a_grace_period::<F>();
    }
}

/// A reader inside a section while `synchronize_rcu` begins (released
/// 20 ms later): a grace period runs instead of the fast path.
fn an_open_section_gets_a_grace_period<F: RcuFlavour>() {
    let (entered, release) = (Arc::new(Barrier::new(2)), Arc::new(AtomicBool::new(false)));
    let reader = {
        let (entered, release) = (entered.clone(), release.clone());
        std::thread::spawn(move || crate::reader::hold::<F>(&entered, &release))
    };
    entered.wait();
    let releaser = {
        let release = release.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            // Relaxed: the reader polls it; nothing else is published.
            release.store(true, Ordering::Relaxed);
        })
    };
    let before = F::stats();
    F::synchronize_rcu();
    let after = F::stats();
    releaser.join().unwrap();
    reader.join().unwrap();
    assert!(after.grace_periods > before.grace_periods, "rcu_{}: an open section must get a grace period", F::NAME);
    assert_eq!(after.synchronize_without_readers, before.synchronize_without_readers);
}

/// While no reader can hold a grace period up: 1,000 calls each take the
/// fast path and complete one grace period; a cookie taken before a call
/// is satisfied by it; 4 threads calling at once all return.
fn fast_path_while_idle<F: RcuFlavour>() {
    let before = F::stats();
    for _ in 0..1_000 {
        let cookie = F::get_state_synchronize_rcu();
        F::synchronize_rcu();
        assert!(F::poll_state_synchronize_rcu(cookie), "a cookie taken before synchronize_rcu is not satisfied by it");
    }
    let after = F::stats();
    assert_eq!(after.synchronize_without_readers - before.synchronize_without_readers, 1_000);
    assert_eq!(after.grace_periods - before.grace_periods, 1_000, "one empty grace period per call");

    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| (0..1_000).for_each(|_| F::synchronize_rcu()));
        }
    });
    let end = F::stats();
    assert_eq!(end.synchronize_calls - after.synchronize_calls, 4_000);
    assert!(end.synchronize_without_readers > after.synchronize_without_readers);
}

/// A registered reader between its sections, announcing quiescent states:
/// `synchronize_rcu` runs a grace period instead of the fast path.
fn a_registered_reader_gets_a_grace_period<F: RcuFlavour>() {
    let (registered, stop) = (Arc::new(Barrier::new(2)), Arc::new(AtomicBool::new(false)));
    let reader = {
        let (registered, stop) = (registered.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut thread = F::register_thread();
            registered.wait();
            // Relaxed: a stop flag; nothing is published through it.
            while !stop.load(Ordering::Relaxed) {
                drop(F::read_lock(&thread));
                F::quiescent_state(&mut thread);
                std::thread::yield_now();
            }
            F::unregister_thread(thread);
        })
    };
    registered.wait();
    let before = F::stats();
    F::synchronize_rcu();
    let after = F::stats();
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert!(after.grace_periods > before.grace_periods, "rcu_{}: a registered reader must get a grace period", F::NAME);
    assert_eq!(after.synchronize_without_readers, before.synchronize_without_readers);
}
