//! Stall warnings (rcu-testkit's `stall` scenarios): a thread online
//! without a quiescent state past `RCU_STALL_TIMEOUT` is named. Its own
//! binary: the scenarios set the process-wide threshold and warning sink.

mod common;

rcu_testkit::stall_tests!(
    "qsbr",
    "online without a quiescent state",
    common::hold,
    rcu_qsbr::synchronize_rcu,
    rcu_qsbr::stats
);
