//! The QSBR grace period: it waits for online threads until they announce a
//! quiescent state, ignores offline ones, never lets a retired object be
//! reclaimed under a reader, and reports misuse.

use rcu_qsbr::{register_thread, synchronize_rcu};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

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

/// A QsbrThread kept in a thread-local outlives the thread's own RCU state
/// (destructors run in reverse order); its slot stays its own until it
/// drops, so a thread registering in between is not disturbed.
#[test]
fn a_handle_held_in_a_thread_local_keeps_its_slot_until_it_drops() {
    use std::sync::mpsc;
    struct Holder(Option<rcu_qsbr::QsbrThread>, mpsc::Sender<()>, mpsc::Receiver<()>);
    impl Drop for Holder {
        fn drop(&mut self) {
            self.1.send(()).unwrap();
            self.2.recv().unwrap(); // B is online
            drop(self.0.take()); // the stale handle goes offline and unregisters
        }
    }
    thread_local!(static HELD: std::cell::RefCell<Option<Holder>> = const { std::cell::RefCell::new(None) });
    let (a_tx, a_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel();
    let a = std::thread::spawn(move || {
        HELD.with(|h| *h.borrow_mut() = None);
        let t = register_thread();
        HELD.with(|h| *h.borrow_mut() = Some(Holder(Some(t), a_tx, b_rx)));
    });
    a_rx.recv().unwrap();
    let (on_tx, on_rx) = mpsc::channel();
    let (check_tx, check_rx) = mpsc::channel::<()>();
    let announced = Arc::new(AtomicBool::new(false));
    let b = {
        let announced = announced.clone();
        std::thread::spawn(move || {
            let mut t = register_thread();
            on_tx.send(()).unwrap();
            check_rx.recv().unwrap();
            assert!(t.is_online(), "another thread's stale handle took B offline");
            std::thread::sleep(Duration::from_millis(30));
            announced.store(true, Ordering::SeqCst);
            t.quiescent_state();
        })
    };
    on_rx.recv().unwrap();
    b_tx.send(()).unwrap();
    a.join().unwrap();
    check_tx.send(()).unwrap();
    synchronize_rcu();
    assert!(announced.load(Ordering::SeqCst), "the grace period ended before B's quiescent state");
    b.join().unwrap();
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

#[test]
fn read_lock_on_an_offline_thread_panics_instead_of_reading_unprotected() {
    let r = std::thread::spawn(|| {
        let mut t = register_thread();
        t.offline();
        let _g = t.read_lock();
    })
    .join();
    let msg = *r
        .unwrap_err()
        .downcast::<&str>()
        .map(|s| Box::new(s.to_string()))
        .or_else(|e| e.downcast::<String>())
        .unwrap();
    assert!(msg.contains("read_lock() on an offline thread"), "{msg}");
}

#[test]
fn quiescent_state_keeps_an_offline_thread_offline_and_online_is_idempotent() {
    let mut t = register_thread();
    t.offline();
    t.quiescent_state();
    assert!(!t.is_online());
    t.online();
    t.online();
    assert!(t.is_online());
}
