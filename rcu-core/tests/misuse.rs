//! Each misuse named in the API contract panics with a message that names
//! the misuse and the fix, instead of deadlocking; and the thread is usable
//! again once the panic has unwound (its guards dropped).
//!
//! What is *not* misuse is pinned down too: `RcuCell::replace` retires the
//! old value through `kvfree_rcu` and never waits for a grace period, so it
//! works inside a read-side section (memb) and from an online QSBR thread,
//! and the old value is still dropped after a grace period.
//!
//! The cases every flavour shares are written once over [`RcuFlavour`];
//! the rest name each flavour's own message and API.

use rcu_core::{RcuCell, RcuFlavour};
use rcu_memb::Memb;
use rcu_qsbr::Qsbr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// The message of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(non-string panic payload)".to_owned())
}

/// Runs `f`, which must panic, and returns the panic message.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the misuse must panic");
    panic_text(&*payload)
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "panic message `{message}` should mention `{p}`");
    }
}

/// A value (its number, then the counter of its drops).
struct CountsDrop(u32, &'static AtomicUsize);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        // Relaxed: read by the test thread after rcu_barrier, which orders
        // every callback (and kvfree drop) before its return.
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

/// Queues a callback that calls `rcu_barrier` and sends the panic message
/// back; calls `rcu_barrier` from this thread to make it run; returns the
/// message, which must name the flavour and the misuse.
fn rcu_barrier_from_a_callback_panics<F: RcuFlavour>() {
    let (tx, rx) = mpsc::channel();
    F::call_rcu(move || {
        let outcome = catch_unwind(F::rcu_barrier);
        let _ = tx.send(outcome.map_err(|p| panic_text(&*p)));
    });
    F::rcu_barrier();
    match rx.recv().expect("the callback ran before rcu_barrier returned") {
        Ok(()) => panic!("rcu_barrier() from a callback must panic"),
        Err(message) => {
            assert_mentions(&message, &[&format!("rcu_{}", F::NAME), "rcu_barrier()", "from an RCU callback"])
        }
    }
}

/// `RcuCell::replace` from a thread that is reading (inside a section;
/// QSBR online): the old value stays valid for the section and is dropped
/// after a grace period.
fn rcu_cell_replace_while_reading_works<F: RcuFlavour>(drops: &'static AtomicUsize) {
    let cell = RcuCell::<CountsDrop, F>::new(CountsDrop(1, drops));
    let mut thread = F::register_thread();
    {
        let guard = F::read_lock(&thread);
        let old = cell.load(&guard);
        cell.replace(CountsDrop(2, drops));
        // The old value stays valid for this section: it is retired, not
        // dropped (and the new one is published).
        assert_eq!(old.0, 1);
        assert_eq!(cell.load(&guard).0, 2);
        assert_eq!(drops.load(Ordering::Relaxed), 0);
    }
    F::quiescent_state(&mut thread);
    F::offline_scope(&mut thread, F::rcu_barrier);
    assert_eq!(drops.load(Ordering::Relaxed), 1, "the old value is dropped");
    drop(cell);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    F::unregister_thread(thread);
}

mod memb {
    use super::*;
    use rcu_memb::read_lock;

    #[test]
    fn synchronize_rcu_inside_a_read_side_section_panics_naming_the_misuse() {
        let msg = panic_message(|| {
            let _guard = read_lock();
            rcu_memb::synchronize_rcu();
        });
        assert_mentions(&msg, &["rcu_memb", "synchronize_rcu()", "inside a read-side critical section", "ReadGuard"]);
        assert!(!rcu_memb::in_read_section(), "unwinding dropped the guard");
        rcu_memb::synchronize_rcu();
    }

    #[test]
    fn synchronize_rcu_inside_a_nested_section_panics_too() {
        let msg = panic_message(|| {
            let _outer = read_lock();
            drop(read_lock());
            rcu_memb::synchronize_rcu();
        });
        assert_mentions(&msg, &["synchronize_rcu()", "inside a read-side critical section"]);
    }

    #[test]
    fn cond_synchronize_rcu_that_must_wait_inside_a_section_panics() {
        let msg = panic_message(|| {
            let _guard = read_lock();
            // This thread's own section holds the cookie's grace period up,
            // so cond_synchronize_rcu would have to wait for itself.
            let cookie = rcu_memb::start_poll_synchronize_rcu();
            rcu_memb::cond_synchronize_rcu(cookie);
        });
        assert_mentions(&msg, &["cond_synchronize_rcu()", "inside a read-side critical section"]);
    }

    #[test]
    fn rcu_cell_replace_inside_a_section_works_and_frees_the_old_value_after_a_grace_period() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        rcu_cell_replace_while_reading_works::<Memb>(&DROPS);
    }

    #[test]
    fn rcu_barrier_inside_a_read_side_section_panics_naming_the_misuse() {
        let msg = panic_message(|| {
            let _guard = read_lock();
            rcu_memb::rcu_barrier();
        });
        assert_mentions(&msg, &["rcu_memb", "rcu_barrier()", "inside a read-side critical section", "ReadGuard"]);
        assert!(!rcu_memb::in_read_section(), "unwinding dropped the guard");
        rcu_memb::rcu_barrier();
    }

    #[test]
    fn rcu_barrier_from_a_callback_panics_naming_the_misuse() {
        rcu_barrier_from_a_callback_panics::<Memb>();
    }

    #[test]
    fn unregister_thread_inside_a_section_panics() {
        let msg = panic_message(|| {
            let _guard = read_lock();
            rcu_memb::unregister_thread();
        });
        assert_mentions(&msg, &["unregister_thread()", "inside a read-side critical section"]);
    }
}

mod qsbr {
    use super::*;
    use rcu_qsbr::register_thread;

    #[test]
    fn a_second_qsbr_thread_on_one_thread_panics_naming_the_misuse() {
        let msg = panic_message(|| {
            let _first = register_thread();
            let _second = register_thread();
        });
        assert_mentions(&msg, &["rcu_qsbr::register_thread()", "already registered", "one QsbrThread per thread"]);
        // The first handle was dropped by the unwind: registering works again.
        let mut t = register_thread();
        t.synchronize_rcu();
    }

    #[test]
    fn free_synchronize_rcu_from_an_online_thread_panics_naming_the_fix() {
        let msg = panic_message(|| {
            let _t = register_thread();
            rcu_qsbr::synchronize_rcu();
        });
        assert_mentions(&msg, &["rcu_qsbr", "synchronize_rcu()", "online QSBR thread", "QsbrThread::synchronize_rcu"]);
    }

    #[test]
    fn free_synchronize_rcu_while_offline_is_allowed() {
        let mut t = register_thread();
        t.offline_scope(rcu_qsbr::synchronize_rcu);
        assert!(t.is_online());
    }

    #[test]
    fn cond_synchronize_rcu_that_must_wait_from_an_online_thread_panics() {
        let msg = panic_message(|| {
            let _t = register_thread();
            let cookie = rcu_qsbr::start_poll_synchronize_rcu();
            rcu_qsbr::cond_synchronize_rcu(cookie);
        });
        assert_mentions(&msg, &["cond_synchronize_rcu()", "online QSBR thread"]);
    }

    #[test]
    fn rcu_cell_replace_from_an_online_thread_works_and_frees_the_old_value_after_a_grace_period() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        rcu_cell_replace_while_reading_works::<Qsbr>(&DROPS);
    }

    #[test]
    fn rcu_barrier_from_an_online_thread_panics_naming_the_fix() {
        let msg = panic_message(|| {
            let _t = register_thread();
            rcu_qsbr::rcu_barrier();
        });
        assert_mentions(&msg, &["rcu_qsbr", "rcu_barrier()", "online QSBR thread", "offline_scope"]);
        let mut t = register_thread();
        t.offline_scope(rcu_qsbr::rcu_barrier);
    }

    #[test]
    fn rcu_barrier_from_a_callback_panics_naming_the_misuse() {
        rcu_barrier_from_a_callback_panics::<Qsbr>();
    }
}
