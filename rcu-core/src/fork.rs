//! `fork()`: the child gets a usable engine.
//!
//! Registered once per flavour with `pthread_atfork` when the engine is
//! first used. Only the forking thread exists in the child, so:
//!
//! * **prepare** (parent, before fork): take the engine's locks (reclaim
//!   start lock, pending-segments lock, grace-period leadership lock, kvfree
//!   steal lock) so the
//!   child does not inherit one held by a thread that will not exist;
//! * **parent** (after fork): release them;
//! * **child**: re-register for membarrier; release every reader slot but
//!   the forking thread's (the other threads are gone, and a slot left
//!   active would stall every grace period); forget any grace period the
//!   parent was running; repair the callback queue if a producer was
//!   mid-enqueue, then append every thread's own callback list to it;
//!   mark the reclaim thread not started, so the next
//!   `call_rcu`, `rcu_barrier` or polled grace period in the child starts it.
//!
//! Callbacks pending at fork time run in **both** processes, each on its
//! own copy of memory: the parent's as usual, the child's once its reclaim
//! thread starts. Exceptions, leaked (never freed) in the child's copy only:
//! callbacks the parent's reclaim thread was running at the instant of the
//! fork, and those whose enqueue was half done: one callback, or a whole
//! batch of up to 64 when a thread was handing its own list to the shared
//! queue at that instant (the list is then only in that vanished thread's
//! registers).

use crate::flavour::Flavour;

/// Registers the fork handlers of flavour `F` (call once: the engine's
/// set-up calls it through `FlavourLocals::register_fork_handlers`).
#[doc(hidden)]
pub fn register_fork_handlers<F: Flavour>() {
    extern "C" fn prepare<F: Flavour>() {
        F::engine().fork_prepare();
    }
    extern "C" fn parent<F: Flavour>() {
        F::engine().fork_parent();
    }
    extern "C" fn child<F: Flavour>() {
        F::engine().fork_child();
    }
    // SAFETY: the handlers are plain functions valid for the life of the
    // process; they do not unwind (no panicking operations in them).
    let rc = unsafe { libc::pthread_atfork(Some(prepare::<F>), Some(parent::<F>), Some(child::<F>)) };
    if rc != 0 {
        eprintln!("rcu_{}: pthread_atfork failed ({rc}); a forked child must not use RCU", F::NAME);
    }
}
