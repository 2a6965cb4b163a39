//! The QSBR flavour's C ABI (liburcu's `liburcu-qsbr.so`): readers in
//! `urcu_qsbr_reader`, announcing quiescent states against `urcu_qsbr_gp`.

use crate::c_side;
use crate::flavour::{unregister_at_exit, CFlavour};
use rcu_core::{ForeignGp, ForeignReader, ForeignReaders, Protocol};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU64};

fn gp() -> &'static ForeignGp {
    // SAFETY: as in `memb.rs`.
    unsafe { &*c_side::rcu_capi_qsbr_gp() }
}

static READERS: ForeignReaders = ForeignReaders::new(gp, crate::flavour::current_word::<Qsbr>);

rcu_core::define_flavour!(
    Qsbr,
    "urcu_qsbr",
    Protocol::Increment,
    "The C ABI's QSBR flavour (its engine serves `urcu_qsbr_*`).",
    foreign = Some(&READERS)
);

thread_local! {
    /// Unregisters a thread that exits registered.
    static EXIT_GUARD: crate::ExitGuard = const { crate::ExitGuard(unregister_at_exit::<Qsbr>) };
}

fn online() -> bool {
    // SAFETY: reads the calling thread's record.
    unsafe { c_side::urcu_qsbr_read_ongoing() != 0 }
}

impl CFlavour for Qsbr {
    const PREFIX: &'static str = "urcu_qsbr";

    fn readers() -> &'static ForeignReaders {
        &READERS
    }

    fn reader() -> ForeignReader {
        // SAFETY: the accessor returns the calling thread's record.
        let waiting = unsafe { c_side::rcu_capi_qsbr_waiting() };
        ForeignReader {
            ctr: Self::word(),
            waiting: Some(NonNull::new(waiting.cast::<AtomicI32>()).expect("a thread-local is never null")),
            tid: rcu_core::sys::gettid(),
        }
    }

    fn word() -> NonNull<AtomicU64> {
        // SAFETY: the accessor returns the calling thread's record.
        let ctr = unsafe { c_side::rcu_capi_qsbr_ctr() };
        NonNull::new(ctr.cast::<AtomicU64>()).expect("a thread-local is never null")
    }

    fn registered() -> bool {
        // SAFETY: reads the calling thread's record.
        unsafe { c_side::rcu_capi_qsbr_registered() != 0 }
    }

    fn set_registered(registered: bool) {
        // SAFETY: writes the calling thread's record.
        unsafe { c_side::rcu_capi_qsbr_set_registered(registered.into()) }
    }

    fn arm_exit_guard() {
        let _ = EXIT_GUARD.try_with(|_| ());
    }

    fn after_register() {
        // SAFETY: the calling thread's record, registered just now.
        unsafe { c_side::urcu_qsbr_thread_online() };
    }

    fn before_unregister() {
        // SAFETY: the calling thread's record (liburcu goes offline too).
        unsafe { c_side::urcu_qsbr_thread_offline() };
    }

    fn enter_wait(_what: &str) -> bool {
        // An online thread waiting would wait for its own quiescent state:
        // liburcu goes offline for the wait, and so does this.
        let was_online = online();
        if was_online {
            // SAFETY: the calling thread's record.
            unsafe { c_side::urcu_qsbr_thread_offline() };
        }
        was_online
    }

    fn leave_wait(was_online: bool) {
        if was_online {
            // SAFETY: the calling thread's record.
            unsafe { c_side::urcu_qsbr_thread_online() };
        }
    }
}
