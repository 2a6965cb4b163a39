//! The memb grace period through memb's own API (the scenarios every
//! flavour shares, such as waiting for an older reader, are in
//! `tests/suites.rs`): nested sections, registration, thread-local guards,
//! and misuse reported instead of deadlocking.

use rcu_memb::{read_lock, synchronize_rcu};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn nested_sections_end_with_the_outermost_guard() {
    let entered = Arc::new(Barrier::new(2));
    let left = Arc::new(AtomicBool::new(false));
    let reader = {
        let (entered, left) = (entered.clone(), left.clone());
        std::thread::spawn(move || {
            let outer = read_lock();
            drop(read_lock());
            let inner = read_lock();
            entered.wait();
            drop(inner);
            std::thread::sleep(Duration::from_millis(50));
            left.store(true, Ordering::SeqCst);
            drop(outer);
        })
    };
    entered.wait();
    synchronize_rcu();
    assert!(left.load(Ordering::SeqCst), "the grace period ended inside the outer section");
    reader.join().unwrap();
}

#[test]
fn synchronize_inside_a_read_section_panics_with_the_misuse_named() {
    let r = std::thread::spawn(|| {
        let _g = read_lock();
        synchronize_rcu();
    })
    .join();
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("synchronize_rcu() called inside a read-side critical section"), "{msg}");
    assert!(msg.contains("Drop the ReadGuard first"), "{msg}");
}

#[test]
fn unregister_inside_a_read_section_panics() {
    let r = std::thread::spawn(|| {
        let _g = read_lock();
        rcu_memb::unregister_thread();
    })
    .join();
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("unregister_thread() called inside a read-side critical section"), "{msg}");
}

/// A guard kept in a thread-local outlives the thread's own RCU state
/// (destructors run in reverse order). Its slot must stay this thread's
/// until the guard drops: here another thread B registers and enters a
/// section between the two destructors, and must still be protected after
/// the stale guard drops.
#[test]
fn a_guard_held_in_a_thread_local_keeps_its_slot_until_it_drops() {
    use std::sync::mpsc;
    struct Holder(Option<rcu_memb::ReadGuard>, mpsc::Sender<()>, mpsc::Receiver<()>);
    impl Drop for Holder {
        fn drop(&mut self) {
            self.1.send(()).unwrap(); // the thread's RCU state is gone by now
            self.2.recv().unwrap(); // B is inside its section
            drop(self.0.take()); // the stale guard leaves
        }
    }
    thread_local!(static HELD: std::cell::RefCell<Option<Holder>> = const { std::cell::RefCell::new(None) });
    let (a_tx, a_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel();
    let a = std::thread::spawn(move || {
        HELD.with(|h| *h.borrow_mut() = None); // registers HELD's destructor first
        let guard = read_lock();
        HELD.with(|h| *h.borrow_mut() = Some(Holder(Some(guard), a_tx, b_rx)));
    });
    a_rx.recv().unwrap();
    let (in_tx, in_rx) = mpsc::channel();
    let (check_tx, check_rx) = mpsc::channel::<()>();
    let left = Arc::new(AtomicBool::new(false));
    let b = {
        let left = left.clone();
        std::thread::spawn(move || {
            let g = read_lock();
            in_tx.send(()).unwrap();
            check_rx.recv().unwrap();
            assert!(rcu_memb::in_read_section(), "another thread's stale guard ended B's section");
            std::thread::sleep(Duration::from_millis(30));
            left.store(true, Ordering::SeqCst);
            drop(g);
        })
    };
    in_rx.recv().unwrap();
    b_tx.send(()).unwrap();
    a.join().unwrap();
    check_tx.send(()).unwrap();
    synchronize_rcu();
    assert!(left.load(Ordering::SeqCst), "synchronize_rcu returned while B was inside its section");
    b.join().unwrap();
}

#[test]
fn explicit_registration_round_trip() {
    std::thread::spawn(|| {
        rcu_memb::register_thread();
        rcu_memb::register_thread();
        drop(read_lock());
        rcu_memb::unregister_thread();
        assert!(!rcu_memb::in_read_section());
        drop(read_lock()); // registers again
    })
    .join()
    .unwrap();
    synchronize_rcu();
}

#[test]
fn reading_from_a_thread_local_destructor_is_handled() {
    struct ReadsOnDrop;
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            let g = read_lock();
            drop(g);
        }
    }
    thread_local!(static LATE: ReadsOnDrop = const { ReadsOnDrop });
    std::thread::spawn(|| {
        drop(read_lock());
        LATE.with(|_| {});
    })
    .join()
    .unwrap();
    synchronize_rcu();
}

#[test]
fn rcu_barrier_inside_a_read_section_panics_with_the_misuse_named() {
    let r = std::thread::spawn(|| {
        let _g = read_lock();
        rcu_memb::rcu_barrier();
    })
    .join();
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("rcu_barrier() called inside a read-side critical section"), "{msg}");
}

#[test]
fn call_rcu_inside_a_read_section_never_blocks() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let guard = read_lock();
    rcu_memb::call_rcu(move || r.store(true, Ordering::SeqCst));
    drop(guard);
    rcu_memb::rcu_barrier();
    assert!(ran.load(Ordering::SeqCst));
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
    let s = rcu_memb::stats();
    assert!(s.registry_capacity <= 64, "200 short-lived threads grew the registry to {}", s.registry_capacity);
    assert!(s.grace_periods > 0);
}
