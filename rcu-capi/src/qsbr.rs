//! The QSBR flavour's C ABI (liburcu's `liburcu-qsbr.so`): readers in
//! `urcu_qsbr_reader`, announcing quiescent states against `urcu_qsbr_gp`.
//!
//! A thread registered lazily (its first function-ABI section, on a thread
//! the program never registered) is online only inside its sections: it
//! never announces quiescent states, so online between sections it would
//! hold every grace period up forever. The C read side brings it online at
//! its outermost `read_lock` and offline at its outermost `read_unlock`.

use crate::c_side::{self, Record};
use crate::flavour::{reader_record, CFlavour, ExitKey};
use crate::record;
use rcu_core::{ForeignGp, ForeignReaders, Protocol};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU64};

fn gp() -> &'static ForeignGp {
    // SAFETY: as in `phase_flip.rs`.
    unsafe { &*c_side::rcu_capi_qsbr_gp() }
}

static READERS: ForeignReaders = ForeignReaders::new(gp, crate::flavour::current_word::<Qsbr>);
static EXIT_KEY: ExitKey = ExitKey::new();

rcu_core::define_flavour!(
    Qsbr,
    "urcu_qsbr",
    Protocol::Increment,
    "The C ABI's QSBR flavour (its engine serves `urcu_qsbr_*`).",
    foreign = Some(&READERS)
);

fn online() -> bool {
    // SAFETY: reads the calling thread's record.
    unsafe { c_side::urcu_qsbr_read_ongoing() != 0 }
}

impl CFlavour for Qsbr {
    const PREFIX: &'static str = "urcu_qsbr";

    fn exit_key() -> &'static ExitKey {
        &EXIT_KEY
    }

    fn current_word() -> Option<NonNull<AtomicU64>> {
        record::current_word(Record::Qsbr)
    }

    fn is_lazy() -> bool {
        record::is_lazy(Record::Qsbr)
    }

    fn is_exiting() -> bool {
        record::is_exiting(Record::Qsbr)
    }

    fn mark_exiting() {
        record::mark_exiting(Record::Qsbr)
    }

    fn add_record(lazy: bool) -> bool {
        // SAFETY: the accessor returns the calling thread's record.
        let waiting = unsafe { c_side::rcu_capi_qsbr_waiting() };
        let waiting = NonNull::new(waiting.cast::<AtomicI32>()).expect("a thread-local is never null");
        // SAFETY: as in `phase_flip.rs`: valid until `remove_record`, which
        // the exit key's destructor runs at the latest (no lazy registration
        // after it ran).
        unsafe { READERS.register(reader_record(record::word(Record::Qsbr), Some(waiting))) };
        record::mark(Record::Qsbr, true, lazy);
        true
    }

    fn make_explicit() {
        record::mark(Record::Qsbr, true, false);
    }

    fn remove_record() {
        READERS.unregister(record::word(Record::Qsbr));
        record::mark(Record::Qsbr, false, false);
    }

    fn after_register() {
        // Online, as liburcu's registration leaves a thread; a lazily
        // registered thread inside a section is online already (and
        // coming online again there would announce a quiescent state).
        if !online() {
            // SAFETY: the calling thread's record, registered just now.
            unsafe { c_side::urcu_qsbr_thread_online() };
        }
    }

    fn before_unregister() {
        // SAFETY: the calling thread's record (liburcu goes offline too).
        unsafe { c_side::urcu_qsbr_thread_offline() };
    }

    fn in_own_section() -> bool {
        false
    }

    fn offline_for_wait() -> bool {
        // An online thread waiting would wait for its own quiescent state:
        // liburcu goes offline for the wait, and so does this.
        let was_online = online();
        if was_online {
            // SAFETY: the calling thread's record.
            unsafe { c_side::urcu_qsbr_thread_offline() };
        }
        was_online
    }

    fn online_after_wait(was_online: bool) {
        if was_online {
            // SAFETY: the calling thread's record.
            unsafe { c_side::urcu_qsbr_thread_online() };
        }
    }
}

/// Called by the C read side on an unregistered thread's first section.
#[no_mangle]
pub extern "C" fn rcu_capi_qsbr_register_lazily() {
    crate::flavour::register_lazily::<Qsbr>();
}
