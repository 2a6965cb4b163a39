//! Large kvfree objects fill blocks by bytes (own process: reads stats).

#[test]
fn large_objects_fill_blocks_by_the_bytes_they_hold() {
    rcu_testkit::kvfree::large_objects_fill_blocks_by_the_bytes_they_hold::<rcu_qsbr::Qsbr>();
}
