//! Each misuse named in the API contract panics with a message that names
//! the misuse and the fix, instead of deadlocking; and the thread is usable
//! again once the panic has unwound (its guards dropped).
//!

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, which must panic, and returns the panic message.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the misuse must panic");
    rcu_torture::threads::panic_text(&*payload)
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "panic message `{message}` should mention `{p}`");
    }
}

mod memb {
    use super::*;
    use rcu_memb::{read_lock, RcuCell};

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
    fn rcu_barrier_inside_a_section_panics() {
        let msg = panic_message(|| {
            let _guard = read_lock();
            rcu_memb::rcu_barrier();
        });
        assert_mentions(&msg, &["rcu_barrier()", "inside a read-side critical section"]);
    }

    /// Not a misuse: replace retires through kvfree_rcu and never waits.
    #[test]
    fn rcu_cell_replace_inside_a_section_is_allowed() {
        let cell = RcuCell::new(1u32);
        let guard = read_lock();
        assert_eq!(*cell.load(&guard), 1);
        cell.replace(2);
        drop(guard);
        assert_eq!(*cell.load(&read_lock()), 2);
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
    use rcu_qsbr::{register_thread, RcuCell};

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
    fn rcu_barrier_from_an_online_thread_panics() {
        let msg = panic_message(|| {
            let _t = register_thread();
            rcu_qsbr::rcu_barrier();
        });
        assert_mentions(&msg, &["rcu_barrier()", "online QSBR thread"]);
    }

    /// Not a misuse: replace retires through kvfree_rcu and never waits.
    #[test]
    fn rcu_cell_replace_from_an_online_thread_is_allowed() {
        let cell = RcuCell::new(1u32);
        let t = register_thread();
        assert_eq!(*cell.load(&t.read_lock()), 1);
        cell.replace(2);
        assert_eq!(*cell.load(&t.read_lock()), 2);
    }
}
