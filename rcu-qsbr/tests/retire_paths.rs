//! Every retire path, checked by QSBR readers against the side table: no
//! reader ever reaches an element after its token was dropped, and nothing
//! leaks.

use rcu_qsbr::{register_thread, Qsbr};
use rcu_testkit::scenario::{replace_while_reading, RetirePath, Shared};

fn reader(shared: &'static Shared) {
    let mut thread = register_thread();
    while !shared.stopped() {
        for _ in 0..16 {
            for _ in 0..64 {
                let _g = thread.read_lock();
                shared.read_and_check(4);
            }
            thread.quiescent_state();
        }
        // Give way now and then, as real QSBR threads block: on 2 cores
        // several always-online spinners make every grace period wait for
        // a scheduler time slice.
        thread.offline_scope(std::thread::yield_now);
    }
}

#[test]
fn synchronize_rcu_never_frees_early() {
    replace_while_reading::<Qsbr>(1, reader, RetirePath::Synchronize, 500);
}

#[test]
fn call_rcu_never_frees_early() {
    replace_while_reading::<Qsbr>(2, reader, RetirePath::CallRcu, 20_000);
}

#[test]
fn call_rcu_raw_never_frees_early() {
    replace_while_reading::<Qsbr>(2, reader, RetirePath::CallRcuRaw, 20_000);
}

#[test]
fn polled_grace_periods_never_free_early() {
    replace_while_reading::<Qsbr>(1, reader, RetirePath::Polling, 500);
}

#[test]
fn kvfree_box_from_several_threads_never_frees_early() {
    rcu_testkit::scenario::replace_while_reading_from::<Qsbr>(2, 2, reader, RetirePath::KvfreeBox, 20_000);
}

#[test]
fn kvfree_vec_never_frees_early() {
    replace_while_reading::<Qsbr>(2, reader, RetirePath::KvfreeVec, 20_000);
}
