//! Every shared suite, for one flavour, from one macro line in that
//! flavour's crate (`tests/suites.rs`):
//!
//! ```text
//! rcu_testkit::flavour_suites!(rcu_memb::Memb);
//! ```
//!
//! The suites are generic over [`RcuFlavour`](rcu_core::RcuFlavour) and
//! read through [`reader`](crate::reader), so a flavour supplies nothing
//! but its type. Tests are grouped in modules by subject (`callbacks`,
//! `kvfree`, `stall`, ...), named `module::test`.
//!
//! # Isolation: one process per test
//!
//! Every test runs in a child process of the test binary
//! ([`isolation::run_in_child`](crate::isolation::run_in_child)). The
//! suites read and change what belongs to the process, not to the test:
//! statistics counters compared before and after (callback counts, panics,
//! stalls, grace periods, kvfree blocks), the callback limits, fault
//! injection, the kvfree drain interval, the stall threshold and warning
//! sink, the set of registered readers (the fast path without readers),
//! kvfree block caches dropped by `reclaim_now`, and `fork()`. In one
//! process the harness runs tests in parallel threads, and each of these
//! would see the others' effects. A process per test gives every test the
//! process to itself without a test binary per isolation need; starting
//! one costs milliseconds, against the seconds most of these tests run.
//! The harness still runs tests in parallel, each child alone in its
//! process.

/// Tests that each run `body` in a child process of their own
/// (`name => body;`, see [`isolation`](crate::isolation)).
#[doc(hidden)]
#[macro_export]
macro_rules! tests_in_child_processes {
    ($($name:ident => $body:expr;)*) => {$(
        #[test]
        fn $name() {
            $crate::isolation::run_in_child(module_path!(), stringify!($name), || {
                $body;
            });
        }
    )*};
}

/// Every shared suite for flavour `$f` (a type implementing
/// [`RcuFlavour`](rcu_core::RcuFlavour)), each test in a process of its
/// own (see [`suites`](crate::suites)).
#[macro_export]
macro_rules! flavour_suites {
    ($f:ty) => {
        /// Every retire path against readers checking the side table.
        mod retire_paths {
            use $crate::scenario::{replace_while_reading, replace_while_reading_from, RetirePath};
            type F = $f;
            $crate::tests_in_child_processes! {
                synchronize_rcu_never_frees_early => replace_while_reading::<F>(1, RetirePath::Synchronize, 500);
                call_rcu_never_frees_early => replace_while_reading::<F>(2, RetirePath::CallRcu, 20_000);
                call_rcu_raw_never_frees_early => replace_while_reading::<F>(2, RetirePath::CallRcuRaw, 20_000);
                polled_grace_periods_never_free_early => replace_while_reading::<F>(1, RetirePath::Polling, 500);
                synchronize_rcu_async_never_frees_early =>
                    replace_while_reading::<F>(2, RetirePath::SynchronizeAsync, 500);
                kvfree_box_from_several_threads_never_frees_early =>
                    replace_while_reading_from::<F>(2, 2, RetirePath::KvfreeBox, 20_000);
                kvfree_vec_never_frees_early => replace_while_reading::<F>(2, RetirePath::KvfreeVec, 20_000);
            }
        }

        /// `RcuCell` and `RcuOption` update paths against readers.
        mod cells {
            use $crate::cells::{self as s, CellPath};
            type F = $f;
            $crate::tests_in_child_processes! {
                rcu_cell_update_never_frees_early => s::cell_path_never_frees_early::<F>(CellPath::Update);
                rcu_cell_compare_exchange_never_frees_early =>
                    s::cell_path_never_frees_early::<F>(CellPath::CompareExchange);
                rcu_cell_swap_never_frees_early => s::cell_path_never_frees_early::<F>(CellPath::Swap);
                rcu_option_store_and_take_never_free_early => s::option_store_and_take_never_free_early::<F>();
                debug_reads_under_its_own_section => s::debug_reads_under_its_own_section::<F>();
                retired_values_wait_only_where_they_may => s::retired_values_wait_only_where_they_may::<F>();
            }
        }

        /// call_rcu and rcu_barrier: ordering, chains, exited producers,
        /// panics, counts, backpressure.
        mod callbacks {
            use $crate::callbacks as s;
            type F = $f;
            $crate::tests_in_child_processes! {
                barrier_runs_everything_queued_by_exited_threads =>
                    s::barrier_runs_everything_queued_by_exited_threads::<F>();
                barrier_collects_the_lists_of_idle_live_threads =>
                    s::barrier_collects_the_lists_of_idle_live_threads::<F>();
                a_lone_callback_runs_without_a_barrier => s::a_lone_callback_runs_without_a_barrier::<F>();
                barriers_racing_with_producers_miss_nothing => s::barriers_racing_with_producers_miss_nothing::<F>();
                callbacks_of_every_size_run_once_and_drop_their_captures =>
                    s::callbacks_of_every_size_run_once_and_drop_their_captures::<F>();
                chained_callbacks_need_one_barrier_per_link => s::chained_callbacks_need_one_barrier_per_link::<F>();
                // One test: both check the same panic counter, in turn.
                panicking_callbacks_are_contained_and_counted => {
                    s::a_panicking_callback_does_not_lose_the_others::<F>();
                    s::barrier_inside_a_callback_panics_instead_of_deadlocking::<F>();
                };
                callback_counts_are_exact_after_barrier => s::callback_counts_are_exact_after_barrier::<F>();
                a_flood_is_held_to_the_hard_limit => s::a_flood_is_held_to_the_hard_limit::<F>(250_000);
            }
        }

        /// Headless kvfree_rcu: thread exit, every emergency branch, every
        /// object shape, destructor panics, block caches, pacing, and
        /// `RcuCell::replace` on top.
        mod kvfree {
            use $crate::kvfree as s;
            type F = $f;
            $crate::tests_in_child_processes! {
                thread_exit_hands_over_its_partial_block => s::thread_exit_hands_over_its_partial_block::<F>();
                no_block_and_may_block_synchronizes_then_frees_inline =>
                    s::no_block_and_may_block_synchronizes_then_frees_inline::<F>();
                no_block_inside_a_read_section_uses_the_reserve =>
                    s::no_block_inside_a_read_section_uses_the_reserve::<F>();
                reserve_exhausted_aborts_with_a_message => s::reserve_exhausted_aborts_with_a_message::<F>();
                every_object_shape_is_dropped_once => s::every_object_shape_is_dropped_once::<F>();
                a_panicking_destructor_does_not_lose_the_others =>
                    s::a_panicking_destructor_does_not_lose_the_others::<F>();
                block_caches_are_bounded_and_dropped_on_demand =>
                    s::block_caches_are_bounded_and_dropped_on_demand::<F>();
                rcu_cell_replace_never_frees_early_and_never_leaks =>
                    s::rcu_cell_replace_never_frees_early_and_never_leaks::<F>();
                partial_blocks_are_sealed_by_the_timer_and_by_rcu_barrier =>
                    s::partial_blocks_are_sealed_by_the_timer_and_by_rcu_barrier::<F>();
                cache_pops_race_with_reclaim_now => s::cache_pops_race_with_reclaim_now::<F>();
                a_kvfree_flood_is_held_to_the_kvfree_limit => s::a_kvfree_flood_is_held_to_the_kvfree_limit::<F>();
                large_objects_fill_blocks_by_the_bytes_they_hold =>
                    s::large_objects_fill_blocks_by_the_bytes_they_hold::<F>();
                producers_free_their_own_ready_blocks => s::producers_free_their_own_ready_blocks::<F>();
                drop_on_caller_off_keeps_destructors_on_the_reclaim_thread =>
                    s::drop_on_caller_off_keeps_destructors_on_the_reclaim_thread::<F>();
                ready_blocks_of_idle_and_exited_owners_are_freed_without_them =>
                    s::ready_blocks_of_idle_and_exited_owners_are_freed_without_them::<F>();
                barrier_inside_an_owner_run_destructor_panics =>
                    s::barrier_inside_an_owner_run_destructor_panics::<F>();
            }
        }

        /// Grace periods seen from outside: waiting for an older reader,
        /// polling, sharing, and the fast path without readers.
        mod grace_periods {
            use $crate::polling as s;
            type F = $f;
            $crate::tests_in_child_processes! {
                synchronize_waits_for_a_reader_that_started_before_it =>
                    s::synchronize_waits_for_a_reader_that_started_before_it::<F>();
                a_started_poll_completes_on_its_own => s::a_started_poll_completes_on_its_own::<F>();
                a_cookie_does_not_complete_while_an_older_reader_is_inside =>
                    s::a_cookie_does_not_complete_while_an_older_reader_is_inside::<F>();
                get_state_is_satisfied_by_a_later_synchronize => s::get_state_is_satisfied_by_a_later_synchronize::<F>();
                concurrent_callers_share_grace_periods => s::concurrent_callers_share_grace_periods::<F>();
                synchronize_with_no_reader_takes_the_fast_path =>
                    $crate::no_reader::synchronize_without_readers_takes_the_fast_path::<F>();
            }
        }

        /// `synchronize_rcu_async` and `rcu_barrier_async`.
        mod async_grace_periods {
            use $crate::async_gp as s;
            type F = $f;
            $crate::tests_in_child_processes! {
                synchronize_async_waits_for_an_older_reader => s::synchronize_async_waits_for_an_older_reader::<F>();
                synchronize_async_without_readers_completes_at_once =>
                    s::synchronize_async_without_readers_completes_at_once::<F>();
                many_awaiters_share_grace_periods => s::many_awaiters_share_grace_periods::<F>();
                dropped_futures_leak_nothing => s::dropped_futures_leak_nothing::<F>();
                barrier_async_waits_for_callbacks_and_kvfree =>
                    s::barrier_async_waits_for_callbacks_and_kvfree::<F>();
                barrier_async_from_a_callback => s::barrier_async_from_a_callback::<F>();
            }
        }

        /// Stall warnings, then `fork()` with callbacks pending.
        mod process {
            type F = $f;
            $crate::tests_in_child_processes! {
                // One test: both scenarios set the process-wide warning sink.
                stall_warnings => {
                    $crate::stall::a_reader_within_the_threshold_is_not_reported::<F>();
                    $crate::stall::a_stalled_reader_is_named::<F>();
                };
                a_forked_child_runs_pending_and_new_callbacks =>
                    $crate::fork::child_runs_pending_and_new_callbacks::<F>();
                a_forked_child_keeps_callback_counts_that_another_thread_has_not_flushed =>
                    $crate::fork::child_keeps_callback_counts_with_unflushed_residuals::<F>();
                a_child_forked_during_producer_side_frees_reconciles_kvfree =>
                    $crate::fork::child_forked_during_producer_side_frees::<F>();
            }
        }
    };
}
