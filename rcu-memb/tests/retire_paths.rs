//! Every retire path, checked by readers against the side table: no reader
//! ever reaches an element after its token was dropped, and nothing leaks.

use rcu_testkit::scenario::Shared;

fn reader(shared: &'static Shared) {
    while !shared.stopped() {
        for _ in 0..1024 {
            let _outer = rcu_memb::read_lock();
            shared.read_and_check(4);
            let _nested = rcu_memb::read_lock();
            shared.read_and_check(4);
        }
        std::thread::yield_now();
    }
}

rcu_testkit::retire_path_tests!(rcu_memb::Memb, reader);
