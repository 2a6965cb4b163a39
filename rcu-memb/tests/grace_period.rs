//! The memb grace period: it waits for readers that started before it, it
//! never lets a retired object be reclaimed under a reader, and misuse is
//! reported instead of deadlocking.

use rcu_memb::{read_lock, synchronize_rcu};
use rcu_testkit::{Arena, Element, ReaderChecks};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
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
    assert!(
        left.load(Ordering::SeqCst),
        "synchronize_rcu returned while a pre-existing reader was inside"
    );
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
    assert!(
        left.load(Ordering::SeqCst),
        "the grace period ended inside the outer section"
    );
    reader.join().unwrap();
}

/// Readers check the side table of every element they reach; a writer
/// replaces the published element and marks the old one freed only after
/// `synchronize_rcu`. An early free would be seen as a FREED element inside
/// a read-side section.
#[test]
fn no_reader_ever_reaches_an_element_freed_by_the_writer() {
    const REPLACEMENTS: usize = 2_000;
    let arena = Arena::leak(REPLACEMENTS + 1);
    let (first, mut token) = arena.create();
    let published: &'static AtomicPtr<Element> =
        Box::leak(Box::new(AtomicPtr::new(first as *const _ as *mut _)));
    let checks = Arc::new(ReaderChecks::default());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (checks, stop) = (checks.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _g = read_lock();
                    // SAFETY: arena elements are never freed.
                    let e = unsafe { &*published.load(Ordering::Acquire) };
                    for _ in 0..8 {
                        checks.check(e);
                    }
                }
            })
        })
        .collect();
    for _ in 0..REPLACEMENTS {
        let (next, next_token) = arena.create();
        published.store(next as *const _ as *mut _, Ordering::Release);
        token.retire();
        synchronize_rcu();
        drop(std::mem::replace(&mut token, next_token));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(checks.reads() > 0);
    assert_eq!(
        checks.early_frees(),
        0,
        "readers reached {} freed elements",
        checks.early_frees()
    );
    assert_eq!(arena.freed_count(), REPLACEMENTS);
}

#[test]
fn synchronize_inside_a_read_section_panics_with_the_misuse_named() {
    let r = std::thread::spawn(|| {
        let _g = read_lock();
        synchronize_rcu();
    })
    .join();
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.contains("synchronize_rcu() called inside a read-side critical section"),
        "{msg}"
    );
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
    assert!(
        msg.contains("unregister_thread() called inside a read-side critical section"),
        "{msg}"
    );
}

#[test]
fn a_forgotten_guard_stalls_nothing_after_its_thread_exits() {
    std::thread::spawn(|| std::mem::forget(read_lock()))
        .join()
        .unwrap();
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
