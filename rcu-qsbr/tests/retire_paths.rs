//! Every retire path, checked by readers against the side table: no reader
//! ever reaches an element after its token was dropped, and nothing leaks.

use rcu_testkit::scenario::Shared;

fn reader(shared: &'static Shared) {
    let mut thread = rcu_qsbr::register_thread();
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

rcu_testkit::retire_path_tests!(rcu_qsbr::Qsbr, reader);
