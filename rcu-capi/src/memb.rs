//! The memb flavour's C ABI (liburcu's `liburcu-memb.so`, also its default
//! `liburcu.so`): readers in `urcu_memb_reader`, phase-flip grace periods
//! on `urcu_memb_gp` with membarrier.

use crate::c_side;
use crate::flavour::{in_memb_section, unregister_at_exit, CFlavour};
use crate::misuse::die;
use rcu_core::{ForeignGp, ForeignReader, ForeignReaders, Protocol};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

fn gp() -> &'static ForeignGp {
    // SAFETY: the C object (or the executable's copy of it) lives for the
    // whole process; `ForeignGp` has `struct urcu_gp`'s layout.
    unsafe { &*c_side::rcu_capi_memb_gp() }
}

static READERS: ForeignReaders = ForeignReaders::new(gp, crate::flavour::current_word::<Memb>);

rcu_core::define_flavour!(
    Memb,
    "urcu_memb",
    Protocol::PhaseFlip,
    "The C ABI's memb flavour (its engine serves `urcu_memb_*`).",
    foreign = Some(&READERS)
);

thread_local! {
    /// Unregisters a thread that exits registered.
    static EXIT_GUARD: crate::ExitGuard = const { crate::ExitGuard(unregister_at_exit::<Memb>) };
}

impl CFlavour for Memb {
    const PREFIX: &'static str = "urcu_memb";

    fn readers() -> &'static ForeignReaders {
        &READERS
    }

    fn reader() -> ForeignReader {
        ForeignReader { ctr: Self::word(), waiting: None, tid: rcu_core::sys::gettid() }
    }

    fn word() -> NonNull<AtomicU64> {
        // SAFETY: the accessor returns the calling thread's record.
        let ctr = unsafe { c_side::rcu_capi_memb_ctr() }.cast::<AtomicU64>();
        NonNull::new(ctr).expect("a thread-local is never null")
    }

    fn registered() -> bool {
        // SAFETY: reads the calling thread's record.
        unsafe { c_side::rcu_capi_memb_registered() != 0 }
    }

    fn set_registered(registered: bool) {
        // SAFETY: writes the calling thread's record.
        unsafe { c_side::rcu_capi_memb_set_registered(registered.into()) }
    }

    fn arm_exit_guard() {
        let _ = EXIT_GUARD.try_with(|_| ());
    }

    fn after_register() {}

    fn before_unregister() {
        if in_memb_section(Self::word()) {
            die("urcu_memb_unregister_thread() called inside a read-side critical section; \
                 call urcu_memb_read_unlock() for each urcu_memb_read_lock() first");
        }
    }

    fn enter_wait(what: &str) -> bool {
        if in_memb_section(Self::word()) {
            die(&format!(
                "{what}() called inside a read-side critical section of the same thread; this would \
                 wait for itself forever (liburcu deadlocks). Call urcu_memb_read_unlock() first, or \
                 use urcu_memb_call_rcu(), which never blocks"
            ));
        }
        false
    }

    fn leave_wait(_was_online: bool) {}
}

/// Memb has no quiescent states: liburcu's flavour table holds no-ops.
pub(crate) extern "C" fn no_op() {}

/// Sets `urcu_memb_has_sys_membarrier` once the engine's barrier strategy
/// is decided: readers then skip their fence (the writer's membarrier
/// stands for it). 0, the initial value, is safe with either strategy.
pub(crate) fn publish_barrier_strategy() {
    let membarrier = rcu_core::sys::init() == rcu_core::BarrierStrategy::Membarrier;
    // SAFETY: the C object lives for the whole process. A plain int in
    // liburcu's ABI; readers load it with a relaxed atomic load.
    let flag = unsafe { &*c_side::rcu_capi_memb_has_sys_membarrier().cast::<std::sync::atomic::AtomicI32>() };
    // Relaxed: a reader that still sees 0 issues a full fence, which is
    // correct with membarrier too; one that sees 1 pairs with membarrier,
    // which is in force from now on (the engine decided it above).
    flag.store(membarrier.into(), std::sync::atomic::Ordering::Relaxed);
}
