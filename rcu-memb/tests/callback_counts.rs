//! Callback counts in `stats()` are exact after `rcu_barrier` (own
//! process: reads process-wide statistics).

#[test]
fn callback_counts_are_exact_after_barrier() {
    rcu_testkit::callbacks::callback_counts_are_exact_after_barrier::<rcu_memb::Memb>();
}
