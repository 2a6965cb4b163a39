//! Partial kvfree blocks do not wait forever (own process: changes the
//! drain interval, and the two checks run in turn so rcu_barrier in one
//! cannot collect the other's block).

use rcu_testkit::callbacks::DropCounter;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn partial_blocks_are_sealed_by_the_timer_and_by_rcu_barrier() {
    the_drain_timer_seals_partial_blocks();
    rcu_qsbr::set_kvfree_drain_interval(Duration::from_secs(3600));
    rcu_testkit::kvfree::barrier_collects_partial_blocks_of_idle_threads::<rcu_qsbr::Qsbr>();
}

/// With a short interval a partial block is sealed by the drain timer
/// without any rcu_barrier (a liveness bound, not a speed check).
fn the_drain_timer_seals_partial_blocks() {
    rcu_qsbr::set_kvfree_drain_interval(Duration::from_millis(5));
    let counter = Arc::new(DropCounter::default());
    let c = counter.clone();
    std::thread::spawn(move || {
        rcu_qsbr::kvfree_rcu(Box::new(c.make()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.dropped() == 0 {
            assert!(Instant::now() < deadline, "the drain timer never sealed the block");
            std::thread::sleep(Duration::from_millis(1));
        }
    })
    .join()
    .unwrap();
    assert!(rcu_qsbr::stats().kvfree_blocks_sealed.timer >= 1);
    assert_eq!(counter.dropped(), 1);
}
