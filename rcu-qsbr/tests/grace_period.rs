//! The QSBR grace period: it waits for online threads until they announce a
//! quiescent state, ignores offline ones, never lets a retired object be
//! reclaimed under a reader, and reports misuse.

use rcu_qsbr::{register_thread, synchronize_rcu};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn synchronize_waits_for_an_online_thread_until_its_quiescent_state() {
    let online = Arc::new(Barrier::new(2));
    let announced = Arc::new(AtomicBool::new(false));
    let reader = {
        let (online, announced) = (online.clone(), announced.clone());
        std::thread::spawn(move || {
            let mut t = register_thread();
            online.wait();
            std::thread::sleep(Duration::from_millis(50));
            announced.store(true, Ordering::SeqCst);
            t.quiescent_state();
        })
    };
    online.wait();
    synchronize_rcu();
    assert!(announced.load(Ordering::SeqCst), "grace period ended before the online thread's quiescent state");
    reader.join().unwrap();
}

#[test]
fn an_offline_thread_does_not_hold_grace_periods_up() {
    let offline = Arc::new(Barrier::new(2));
    let finish = Arc::new(Barrier::new(2));
    let reader = {
        let (offline, finish) = (offline.clone(), finish.clone());
        std::thread::spawn(move || {
            let mut t = register_thread();
            t.offline_scope(|| {
                offline.wait();
                finish.wait(); // blocks until the writer's grace period is over
            });
            assert!(t.is_online());
        })
    };
    offline.wait();
    synchronize_rcu();
    finish.wait();
    reader.join().unwrap();
}

#[test]
fn a_registered_thread_synchronizes_without_waiting_for_itself() {
    let mut t = register_thread();
    t.synchronize_rcu();
    t.synchronize_rcu();
    assert!(t.is_online());
}

#[test]
fn a_second_registration_on_one_thread_panics_with_the_misuse_named() {
    let r = std::thread::spawn(|| {
        let _a = register_thread();
        let _b = register_thread();
    })
    .join();
    let msg = *r
        .unwrap_err()
        .downcast::<&str>()
        .map(|s| Box::new(s.to_string()))
        .or_else(|e| e.downcast::<String>())
        .unwrap();
    assert!(msg.contains("already registered"), "{msg}");
}

#[test]
fn free_synchronize_from_an_online_thread_panics_with_the_fix_named() {
    let r = std::thread::spawn(|| {
        let _t = register_thread();
        synchronize_rcu();
    })
    .join();
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("called from an online QSBR thread"), "{msg}");
    assert!(msg.contains("QsbrThread::synchronize_rcu"), "{msg}");
}

#[test]
fn registration_ends_with_the_handle_and_can_start_again() {
    std::thread::spawn(|| {
        drop(register_thread());
        let mut t = register_thread();
        t.quiescent_state();
    })
    .join()
    .unwrap();
    synchronize_rcu();
}

#[test]
fn a_forgotten_handle_stalls_nothing_after_its_thread_exits() {
    std::thread::spawn(|| std::mem::forget(register_thread())).join().unwrap();
    synchronize_rcu();
}

#[test]
fn rcu_barrier_from_an_online_thread_panics_with_the_fix_named() {
    let r = std::thread::spawn(|| {
        let _t = register_thread();
        rcu_qsbr::rcu_barrier();
    })
    .join();
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("rcu_barrier() called from an online QSBR thread"), "{msg}");
}

#[test]
fn call_rcu_from_an_online_thread_never_blocks() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let mut t = register_thread();
    rcu_qsbr::call_rcu(move || r.store(true, Ordering::SeqCst));
    t.offline_scope(rcu_qsbr::rcu_barrier);
    assert!(ran.load(Ordering::SeqCst));
}
