//! How a torture thread takes part in RCU, written once for every flavour
//! over [`RcuFlavour`]: reading or able to block, stepping out of reading
//! for a moment, waiting for grace periods and callbacks from a registered
//! thread, and exiting still registered.
//!
//! Code that keeps the QSBR discipline (blocking calls inside
//! `offline_scope`, a quiescent state between sections) is correct for
//! every flavour, so nothing here names one.

use rcu_core::RcuFlavour;
use rcu_testkit::rng::Rng;
use std::any::Any;
use std::cell::RefCell;
use std::time::Duration;

/// Runs `f` as a reader (`reading`: inside a read-side section, which for
/// QSBR also means online) or as a thread that may block (outside any
/// section; QSBR offline): the two contexts the engine treats differently.
pub fn maybe_reading<F: RcuFlavour, R>(thread: &mut F::Thread, reading: bool, f: impl FnOnce() -> R) -> R {
    if reading {
        let guard = F::read_lock(thread);
        let r = f();
        drop(guard);
        r
    } else {
        F::offline_scope(thread, f)
    }
}

/// `synchronize_rcu` from a registered thread.
pub fn synchronize<F: RcuFlavour>(thread: &mut F::Thread) {
    F::offline_scope(thread, F::synchronize_rcu);
}

/// `rcu_barrier` from a registered thread.
pub fn barrier<F: RcuFlavour>(thread: &mut F::Thread) {
    F::offline_scope(thread, F::rcu_barrier);
}

/// Steps out of reading for a moment, one of three ways: offline for a
/// short sleep, offline for a `synchronize_rcu`, or unregistered and
/// registered again (often in the slot just released).
pub fn pause<F: RcuFlavour>(mut thread: F::Thread, rng: &mut Rng) -> F::Thread {
    match rng.below(3) {
        0 => {
            let nap = Duration::from_micros(rng.below(200));
            F::offline_scope(&mut thread, || std::thread::sleep(nap));
            thread
        }
        1 => {
            synchronize::<F>(&mut thread);
            thread
        }
        _ => {
            F::unregister_thread(thread);
            if rng.one_in(2) {
                std::thread::yield_now();
            }
            F::register_thread()
        }
    }
}

thread_local! {
    /// Handles kept until the thread exits (see [`exit_registered`]).
    static KEPT_TO_EXIT: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Lets the calling thread exit still registered: the handle is dropped by
/// a thread-local destructor, so the flavour's own thread-exit destructor
/// must release the registration whichever of the two runs first (if the
/// engine's thread state goes first, it keeps the slot for the handle).
pub fn exit_registered<F: RcuFlavour>(thread: F::Thread) {
    KEPT_TO_EXIT.with(|kept| kept.borrow_mut().push(Box::new(thread)));
}
