//! call_rcu and rcu_barrier: ordering, chains, exited producers, panics.

rcu_testkit::callback_tests!(rcu_qsbr::Qsbr);
