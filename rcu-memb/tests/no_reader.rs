//! `synchronize_rcu` with no reader registered takes the fast
//! path (rcu-testkit's `no_reader`); with a reader registered, it does not.
//! Its own binary: no other test may register readers meanwhile.

#[test]
fn synchronize_with_no_reader_registered_takes_the_fast_path() {
    rcu_testkit::no_reader::synchronize_without_readers_takes_the_fast_path(&rcu_testkit::no_reader::Api {
        synchronize: rcu_memb::synchronize_rcu,
        stats: rcu_memb::stats,
        get_state: rcu_memb::get_state_synchronize_rcu,
        poll: rcu_memb::poll_state_synchronize_rcu,
    });
    let reader = std::thread::spawn(|| {
        rcu_memb::register_thread();
        let before = rcu_memb::stats();
        rcu_memb::synchronize_rcu();
        let after = rcu_memb::stats();
        assert!(after.grace_periods > before.grace_periods, "a registered reader must get a grace period");
        assert_eq!(after.synchronize_without_readers, before.synchronize_without_readers);
    });
    reader.join().unwrap();
}
