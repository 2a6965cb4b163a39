//! Grace-period sharing (rcu-testkit's `polling` scenarios), in its own
//! process so no other test adds grace periods: N concurrent synchronize_rcu
//! callers cost far fewer than N.

mod common;

rcu_testkit::sharing_tests!(rcu_qsbr::Qsbr, common::hold);
