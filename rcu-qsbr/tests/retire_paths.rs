//! Every retire path, checked by QSBR readers against the side table: no
//! reader ever reaches an element after its token was dropped, and nothing
//! leaks.

use rcu_qsbr::{register_thread, Qsbr};
use rcu_testkit::scenario::{replace_while_reading, RetirePath, Shared};

fn reader(shared: &'static Shared) {
    let mut thread = register_thread();
    while !shared.stopped() {
        for _ in 0..64 {
            let _g = thread.read_lock();
            shared.read_and_check(4);
        }
        thread.quiescent_state();
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
