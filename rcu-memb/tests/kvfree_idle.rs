//! Partial kvfree blocks do not wait forever (own process: changes the
//! drain interval).

#[test]
fn partial_blocks_are_sealed_by_the_timer_and_by_rcu_barrier() {
    rcu_testkit::kvfree::partial_blocks_are_sealed_by_the_timer_and_by_rcu_barrier::<rcu_memb::Memb>();
}
