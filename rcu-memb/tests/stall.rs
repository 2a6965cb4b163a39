//! Stall warnings (rcu-testkit's `stall` scenarios): a reader inside a
//! read-side section past `RCU_STALL_TIMEOUT` is named. Its own binary: the
//! scenarios set the process-wide threshold and warning sink.

mod common;

rcu_testkit::stall_tests!(
    "memb",
    "inside a read-side section",
    common::hold,
    rcu_memb::synchronize_rcu,
    rcu_memb::stats
);
