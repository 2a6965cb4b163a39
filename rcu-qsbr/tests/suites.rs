//! rcu-testkit's shared suites for the QSBR flavour, each test in a process
//! of its own (rcu-testkit's `suites` module says why).

rcu_testkit::flavour_suites!(rcu_qsbr::Qsbr);
