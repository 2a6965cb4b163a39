//! A call_rcu flood keeps the backlog bounded (own process: reads stats and
//! changes the limits).

#[test]
fn a_flood_is_held_to_the_hard_limit() {
    rcu_testkit::callbacks::a_flood_is_held_to_the_hard_limit::<rcu_memb::Memb>(250_000);
}
