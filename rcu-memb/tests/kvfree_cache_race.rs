//! Block caches against reclaim_now (own process: it drops every cache in
//! a loop, which would disturb the cache bounds other kvfree tests check).

#[test]
fn cache_pops_race_with_reclaim_now() {
    rcu_testkit::kvfree::cache_pops_race_with_reclaim_now::<rcu_memb::Memb>();
}
