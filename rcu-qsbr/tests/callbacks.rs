//! call_rcu and rcu_barrier: ordering, chains, exited producers, panics.

use rcu_qsbr::Qsbr;
use rcu_testkit::callbacks as cb;

#[test]
fn barrier_runs_everything_queued_by_exited_threads() {
    cb::barrier_runs_everything_queued_by_exited_threads::<Qsbr>();
}

#[test]
fn chained_callbacks_need_one_barrier_per_link() {
    cb::chained_callbacks_need_one_barrier_per_link::<Qsbr>();
}

/// One test, so the two panics are counted in turn (the counter is global).
#[test]
fn panicking_callbacks_are_contained_and_counted() {
    cb::a_panicking_callback_does_not_lose_the_others::<Qsbr>();
    cb::barrier_inside_a_callback_panics_instead_of_deadlocking::<Qsbr>();
}
