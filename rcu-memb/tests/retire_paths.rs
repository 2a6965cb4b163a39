//! Every retire path, checked by readers against the side table: no reader
//! ever reaches an element after its token was dropped, and nothing leaks.

use rcu_memb::{read_lock, Memb};
use rcu_testkit::scenario::{replace_while_reading, RetirePath, Shared};

fn reader(shared: &'static Shared) {
    while !shared.stopped() {
        let _outer = read_lock();
        shared.read_and_check(4);
        let _nested = read_lock();
        shared.read_and_check(4);
    }
}

#[test]
fn synchronize_rcu_never_frees_early() {
    replace_while_reading::<Memb>(1, reader, RetirePath::Synchronize, 500);
}

#[test]
fn call_rcu_never_frees_early() {
    replace_while_reading::<Memb>(2, reader, RetirePath::CallRcu, 20_000);
}

#[test]
fn call_rcu_raw_never_frees_early() {
    replace_while_reading::<Memb>(2, reader, RetirePath::CallRcuRaw, 20_000);
}

#[test]
fn polled_grace_periods_never_free_early() {
    replace_while_reading::<Memb>(1, reader, RetirePath::Polling, 500);
}
