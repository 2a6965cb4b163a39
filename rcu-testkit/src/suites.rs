//! Test suites both flavours run, as macros: each flavour's test file names
//! its flavour type and supplies only what is flavour-specific (its reader
//! loop, how to be inside a read-side section).

/// Every retire path against readers (see `scenario`): `retire_path_tests!(Flavour, reader_fn)`.
#[macro_export]
macro_rules! retire_path_tests {
    ($f:ty, $reader:expr) => {
        use $crate::scenario::{replace_while_reading, replace_while_reading_from, RetirePath};

        #[test]
        fn synchronize_rcu_never_frees_early() {
            replace_while_reading::<$f>(1, $reader, RetirePath::Synchronize, 500);
        }

        #[test]
        fn call_rcu_never_frees_early() {
            replace_while_reading::<$f>(2, $reader, RetirePath::CallRcu, 20_000);
        }

        #[test]
        fn call_rcu_raw_never_frees_early() {
            replace_while_reading::<$f>(2, $reader, RetirePath::CallRcuRaw, 20_000);
        }

        #[test]
        fn polled_grace_periods_never_free_early() {
            replace_while_reading::<$f>(1, $reader, RetirePath::Polling, 500);
        }

        #[test]
        fn kvfree_box_from_several_threads_never_frees_early() {
            replace_while_reading_from::<$f>(2, 2, $reader, RetirePath::KvfreeBox, 20_000);
        }

        #[test]
        fn kvfree_vec_never_frees_early() {
            replace_while_reading::<$f>(2, $reader, RetirePath::KvfreeVec, 20_000);
        }
    };
}

/// kvfree_rcu properties (see `kvfree`): `kvfree_tests!(Flavour, in_read_section_fn, cell_reader_fn)`.
#[macro_export]
macro_rules! kvfree_tests {
    ($f:ty, $in_read_section:expr, $cell_reader:expr) => {
        use $crate::kvfree as kv;

        #[test]
        fn thread_exit_hands_over_its_partial_block() {
            kv::thread_exit_hands_over_its_partial_block::<$f>();
        }

        #[test]
        fn no_block_and_may_block_synchronizes_then_frees_inline() {
            kv::no_block_and_may_block_synchronizes_then_frees_inline::<$f>();
        }

        #[test]
        fn no_block_inside_a_read_section_uses_the_reserve() {
            kv::no_block_inside_a_read_section_uses_the_reserve::<$f>($in_read_section);
        }

        #[test]
        fn reserve_exhausted_aborts_with_a_message() {
            kv::reserve_exhausted_aborts_with_a_message::<$f>($in_read_section);
        }

        #[test]
        fn every_object_shape_is_dropped_once() {
            kv::every_object_shape_is_dropped_once::<$f>();
        }

        #[test]
        fn a_panicking_destructor_does_not_lose_the_others() {
            kv::a_panicking_destructor_does_not_lose_the_others::<$f>();
        }

        #[test]
        fn block_caches_are_bounded_and_dropped_on_demand() {
            kv::block_caches_are_bounded_and_dropped_on_demand::<$f>();
        }

        #[test]
        fn rcu_cell_replace_never_frees_early_and_never_leaks() {
            kv::rcu_cell_replace_never_frees_early_and_never_leaks::<$f>($in_read_section, $cell_reader);
        }
    };
}

/// call_rcu / rcu_barrier properties (see `callbacks`): `callback_tests!(Flavour)`.
#[macro_export]
macro_rules! callback_tests {
    ($f:ty) => {
        use $crate::callbacks as cb;

        #[test]
        fn barrier_runs_everything_queued_by_exited_threads() {
            cb::barrier_runs_everything_queued_by_exited_threads::<$f>();
        }

        #[test]
        fn barrier_collects_the_lists_of_idle_live_threads() {
            cb::barrier_collects_the_lists_of_idle_live_threads::<$f>();
        }

        #[test]
        fn a_lone_callback_runs_without_a_barrier() {
            cb::a_lone_callback_runs_without_a_barrier::<$f>();
        }

        #[test]
        fn barriers_racing_with_producers_miss_nothing() {
            cb::barriers_racing_with_producers_miss_nothing::<$f>();
        }

        #[test]
        fn callbacks_of_every_size_run_once_and_drop_their_captures() {
            cb::callbacks_of_every_size_run_once_and_drop_their_captures::<$f>();
        }

        #[test]
        fn chained_callbacks_need_one_barrier_per_link() {
            cb::chained_callbacks_need_one_barrier_per_link::<$f>();
        }

        /// One test, so the two panics are counted in turn (the counter is global).
        #[test]
        fn panicking_callbacks_are_contained_and_counted() {
            cb::a_panicking_callback_does_not_lose_the_others::<$f>();
            cb::barrier_inside_a_callback_panics_instead_of_deadlocking::<$f>();
        }
    };
}
