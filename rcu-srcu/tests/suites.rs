//! rcu-testkit's shared suites for the srcu flavour, each test in a process
//! of its own (rcu-testkit's `suites` module says why).

rcu_testkit::flavour_suites!(rcu_srcu::Srcu);
