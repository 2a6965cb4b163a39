//! A kvfree_rcu flood keeps its backlog bounded (own process: reads stats).

#[test]
fn a_kvfree_flood_is_held_to_the_kvfree_limit() {
    rcu_testkit::kvfree::a_kvfree_flood_is_held_to_the_kvfree_limit::<rcu_qsbr::Qsbr>();
}
