//! What the C ABI does the same way for both flavours, over the
//! [`CFlavour`] trait each flavour module implements: registration (with an
//! automatic unregistration at thread exit), the blocking calls and their
//! misuse checks, and the deferred calls.
//!
//! Every C flavour is an rcu-core flavour with its own engine whose
//! [`ForeignReaders`] are the threads registered through this ABI: one
//! engine, one reclaim thread, one sequence of grace periods per flavour.

use crate::misuse::{die, no_unwind};
use rcu_core::kvfree::CDeferredFn;
use rcu_core::{CallbackLimits, Flavour, ForeignReader, ForeignReaders, ReclaimPacing};
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// A flavour of the C ABI.
pub(crate) trait CFlavour: Flavour {
    /// liburcu's prefix for the flavour's names (`urcu_memb`).
    const PREFIX: &'static str;
    /// The flavour's foreign-reader registry (its engine's).
    fn readers() -> &'static ForeignReaders;
    /// The calling thread's reader record, for registration (it asks the
    /// kernel for the thread id: a system call).
    fn reader() -> ForeignReader;
    /// The calling thread's reader word (no system call: for the checks
    /// on every wait and for unregistration).
    fn word() -> NonNull<AtomicU64>;
    /// Whether the calling thread is registered (the record's flag).
    fn registered() -> bool;
    /// Sets the record's flag (and `tid`).
    fn set_registered(registered: bool);
    /// Arms the thread-exit unregistration for the calling thread.
    fn arm_exit_guard();
    /// After registration (QSBR: the thread comes online, as in liburcu).
    fn after_register();
    /// Before unregistration (memb: aborts inside a section; QSBR: offline).
    fn before_unregister();
    /// Before a wait for a grace period or for callbacks, on behalf of
    /// `what`: aborts where the wait could never end (memb: inside the
    /// thread's own section); QSBR goes offline. Returns whether to come
    /// back online after.
    fn enter_wait(what: &str) -> bool;
    /// After the wait: back online if `enter_wait` said so.
    fn leave_wait(was_online: bool);
}

/// liburcu's pacing for C programs: its `call_rcu` worker runs a batch,
/// then sleeps 10 ms, and never makes a producer wait. A 1 ms window (the
/// Rust default) made a `test_urcu_lfq` dequeuer, which `call_rcu`s every
/// node, run into the kvfree limit and wait, fall behind its enqueuer and
/// never catch up (BENCHMARKS.md, "The C ABI, same binary on two
/// libraries"). The soft limit is what a 10 ms window gathers at 50 M
/// objects/s (above the flood's measured peak), so only a faster flood
/// cuts the window short; producers still wait past a million C objects
/// (about two such windows) where liburcu's backlog grows without bound.
pub const LIBURCU_PACING: ReclaimPacing =
    ReclaimPacing { gather_window: std::time::Duration::from_millis(10), kvfree_backlog_hard: 1_000_000 };
/// The `call_rcu` limits that go with [`LIBURCU_PACING`].
pub const LIBURCU_LIMITS: CallbackLimits = CallbackLimits { soft: 500_000, hard: 2_000_000 };

/// Sets liburcu's pacing on the flavour's engine (library constructor).
pub(crate) fn pace_like_liburcu<F: CFlavour>() {
    F::engine().set_callback_limits(LIBURCU_LIMITS);
    F::engine().set_reclaim_pacing(LIBURCU_PACING);
}

/// The calling thread's reader word, if registered (for `ForeignReaders`).
pub(crate) fn current_word<F: CFlavour>() -> Option<&'static AtomicU64> {
    if !F::registered() {
        return None;
    }
    // SAFETY: the word lives as long as the calling thread, which is the
    // only user of this reference (`ForeignReaders::may_block` reads it and
    // drops it at once).
    Some(unsafe { F::word().as_ref() })
}

/// `urcu_*_register_thread`.
pub(crate) fn register_thread<F: CFlavour>() {
    let what = format!("{}_register_thread", F::PREFIX);
    if F::registered() {
        die(&format!(
            "{what}() called by a thread that is registered already; call {}_unregister_thread() once \
             for each registration",
            F::PREFIX
        ));
    }
    no_unwind(&what, || {
        // SAFETY: the record is the calling thread's TLS; it stays valid
        // until `unregister_thread`, which the exit guard armed here runs at
        // the latest (thread-local destructors run before TLS is freed).
        unsafe { F::readers().register(F::reader()) };
        F::set_registered(true);
        F::arm_exit_guard();
        F::after_register();
    });
}

/// `urcu_*_unregister_thread`.
pub(crate) fn unregister_thread<F: CFlavour>() {
    if !F::registered() {
        die(&format!(
            "{}_unregister_thread() called by a thread that is not registered; call it once per \
             {}_register_thread()",
            F::PREFIX,
            F::PREFIX
        ));
    }
    F::before_unregister();
    F::readers().unregister(F::word());
    F::set_registered(false);
}

/// The exit guard's work: unregisters a thread that exits registered
/// (liburcu would leave a dangling record in its registry).
pub(crate) fn unregister_at_exit<F: CFlavour>() {
    if F::registered() {
        F::before_unregister();
        F::readers().unregister(F::word());
        F::set_registered(false);
    }
}

/// `urcu_*_synchronize_rcu`.
pub(crate) fn synchronize_rcu<F: CFlavour>() {
    let what = format!("{}_synchronize_rcu", F::PREFIX);
    let was_online = F::enter_wait(&what);
    no_unwind(&what, || F::engine().synchronize());
    F::leave_wait(was_online);
}

/// `urcu_*_barrier` and the `defer_barrier` pair.
pub(crate) fn barrier<F: CFlavour>(what: &str) {
    let was_online = F::enter_wait(what);
    no_unwind(what, || F::engine().barrier());
    F::leave_wait(was_online);
}

/// `urcu_*_call_rcu` and `urcu_*_defer_rcu`: `func(arg)` after a grace
/// period, on the flavour's reclaim thread. Never blocks.
///
/// # Safety
///
/// `func(arg)` must be sound to call once, on another thread, after a
/// grace period.
pub(crate) unsafe fn defer_call<F: CFlavour>(what: &str, func: CDeferredFn, arg: *mut c_void) {
    // SAFETY: forwarded contract.
    no_unwind(what, || unsafe { F::engine().defer_c_call(func, arg) });
}

/// Whether the thread's word says it is inside a memb read-side section.
pub(crate) fn in_memb_section(word: NonNull<AtomicU64>) -> bool {
    // SAFETY: the calling thread's own word. Relaxed: its own writes.
    let v = unsafe { word.as_ref() }.load(Ordering::Relaxed);
    v & rcu_core::reader::memb::NEST_MASK != 0
}
