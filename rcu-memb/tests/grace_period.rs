//! The memb grace period: it waits for readers that started before it, it
//! never lets a retired object be reclaimed under a reader, and misuse is
//! reported instead of deadlocking.

use rcu_memb::{read_lock, synchronize_rcu};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn synchronize_waits_for_a_reader_that_started_before_it() {
    let entered = Arc::new(Barrier::new(2));
    let left = Arc::new(AtomicBool::new(false));
    let reader = {
        let (entered, left) = (entered.clone(), left.clone());
        std::thread::spawn(move || {
            let guard = read_lock();
            entered.wait();
            std::thread::sleep(Duration::from_millis(50));
            left.store(true, Ordering::SeqCst);
            drop(guard);
        })
    };
    entered.wait();
    synchronize_rcu();
    assert!(left.load(Ordering::SeqCst), "synchronize_rcu returned while a pre-existing reader was inside");
    reader.join().unwrap();
}

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

#[test]
fn a_forgotten_guard_stalls_nothing_after_its_thread_exits() {
    std::thread::spawn(|| std::mem::forget(read_lock())).join().unwrap();
    synchronize_rcu(); // would hang if the dead thread's slot stayed active
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
