//! Polled grace periods (rcu-testkit's `polling` scenarios): cookies
//! complete without anyone calling synchronize_rcu, and never while a reader
//! that predates them is inside.

mod common;

rcu_testkit::polling_tests!(rcu_qsbr::Qsbr, common::hold);
