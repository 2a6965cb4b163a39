//! What is new in srcu: sections that end on another thread, sections held
//! across a sleep, misuse reported instead of deadlocking, and domains that
//! do not delay each other.

use rcu_srcu::{read_lock, synchronize_rcu, Domain, RcuCell, ReadGuard};
use rcu_testkit::kvfree::Held;
use rcu_testkit::{Arena, ReaderChecks};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a writer retires the values it replaces.
#[derive(Copy, Clone)]
enum Retire {
    /// `swap`, then `synchronize_rcu` before the drop.
    Synchronize,
    /// `replace`, which hands the old value to `kvfree_rcu`.
    Kvfree,
}

/// Two reader threads each enter a section, load the cell and send the
/// guard with the loaded element to a closer thread, which checks the
/// element against the side table, then drops the guard; a writer replaces
/// the value meanwhile. No reader reaches a freed element.
fn handed_over_guards_keep_their_values(retire: Retire, replacements: usize) {
    let arena = Arena::leak(replacements + 1);
    let cell: &'static RcuCell<Held> = Box::leak(Box::new(RcuCell::new(Held::new(arena))));
    let checks: &'static ReaderChecks = Box::leak(Box::default());
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let (send, receive) = mpsc::sync_channel::<(ReadGuard, &'static rcu_testkit::Element)>(64);
    let closer = std::thread::spawn(move || {
        for (guard, element) in receive {
            (0..4).for_each(|_| checks.check(element));
            drop(guard);
        }
    });
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let send = send.clone();
            std::thread::spawn(move || {
                // Relaxed: a stop flag; nothing is published through it.
                while !stop.load(Ordering::Relaxed) {
                    let guard = read_lock();
                    let element: *const rcu_testkit::Element = cell.load(&guard).element;
                    // SAFETY: the element is the arena's ('static storage);
                    // its state is what the closer checks, under the guard
                    // sent with it.
                    let element = unsafe { &*element };
                    checks.check(element);
                    send.send((guard, element)).unwrap();
                }
            })
        })
        .collect();
    drop(send);
    while checks.reads() == 0 {
        std::thread::yield_now();
    }
    for _ in 0..replacements {
        match retire {
            Retire::Synchronize => {
                let old = cell.swap(Held::new(arena));
                drop(old.into_inner_after_grace_period());
            }
            Retire::Kvfree => cell.replace(Held::new(arena)),
        }
    }
    stop.store(true, Ordering::Relaxed);
    readers.into_iter().for_each(|r| r.join().unwrap());
    closer.join().unwrap();
    rcu_srcu::rcu_barrier();
    assert!(checks.reads() > 0);
    assert_eq!(checks.early_frees(), 0, "readers reached {} freed values", checks.early_frees());
    assert_eq!(arena.dropped(), replacements as u64, "leak");
}

#[test]
fn guards_dropped_on_another_thread_keep_values_through_synchronize_rcu() {
    handed_over_guards_keep_their_values(Retire::Synchronize, 300);
}

#[test]
fn guards_dropped_on_another_thread_keep_values_through_kvfree_rcu() {
    handed_over_guards_keep_their_values(Retire::Kvfree, 5_000);
}

#[test]
fn a_guard_held_across_a_sleep_delays_the_grace_period_until_dropped() {
    let (entered, dropped) = (mpsc::channel(), AtomicBool::new(false));
    std::thread::scope(|s| {
        s.spawn(|| {
            let guard = read_lock();
            entered.0.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            dropped.store(true, Ordering::SeqCst);
            drop(guard);
        });
        entered.1.recv().unwrap();
        let start = Instant::now();
        synchronize_rcu();
        assert!(dropped.load(Ordering::SeqCst), "the grace period ended while the section slept");
        assert!(start.elapsed() >= Duration::from_millis(50));
    });
}

#[test]
fn nested_sections_end_in_any_order_and_on_any_thread() {
    let outer = read_lock();
    let inner = read_lock();
    drop(outer);
    std::thread::spawn(move || drop(inner)).join().unwrap();
    assert!(!rcu_srcu::in_read_section());
    synchronize_rcu();
}

#[test]
#[should_panic(expected = "Drop the guard first, or use synchronize_rcu_async")]
fn synchronize_inside_a_section_of_this_thread_panics_naming_the_fix() {
    let _guard = read_lock();
    synchronize_rcu();
}

#[test]
#[should_panic(expected = "rcu_barrier() called on a thread that entered 1 read-side section")]
fn rcu_barrier_inside_a_section_of_this_thread_panics() {
    let _guard = read_lock();
    rcu_srcu::rcu_barrier();
}

#[test]
fn a_section_handed_to_another_thread_and_ended_there_lets_its_opener_block() {
    let guard = read_lock();
    assert!(rcu_srcu::in_read_section());
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert!(!rcu_srcu::in_read_section());
    synchronize_rcu();
}

static A: Domain = Domain::named("a");
static B: Domain = Domain::named("b");

#[test]
fn a_section_of_one_domain_does_not_delay_another_domains_grace_period() {
    let guard = A.read_lock();
    let start = Instant::now();
    B.synchronize_rcu();
    assert!(start.elapsed() < Duration::from_secs(5));
    let ended = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            A.synchronize_rcu();
            assert!(ended.load(Ordering::SeqCst), "domain a's grace period ended inside its section");
        });
        std::thread::sleep(Duration::from_millis(50));
        ended.store(true, Ordering::SeqCst);
        // Dropped on this thread, which is not the synchronizing one.
        drop(guard);
    });
}

static C: Domain = Domain::named("c");

#[test]
#[should_panic(expected = "srcu domain \"c\"")]
fn domain_synchronize_inside_its_own_section_panics() {
    let _guard = C.read_lock();
    C.synchronize_rcu();
}

#[test]
fn guards_are_send_sync_and_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<ReadGuard>();
    check::<rcu_srcu::DomainGuard>();
}

#[test]
fn the_state_report_shows_open_sections_and_their_thread() {
    let guard = read_lock();
    let report = rcu_srcu::state_report();
    assert!(report.contains("srcu domain \"srcu\""), "{report}");
    assert!(report.contains(&format!("{}", rcu_core::sys::gettid())), "{report}");
    drop(guard);
}
