//! `call_rcu` and `rcu_barrier`: handing callbacks to the reclaim thread.

use super::Engine;
use crate::defer::callback::{CallbackFn, RcuHead};
use crate::reader::SlotPtr;
use crate::reclaim::{CallbackLimits, ReclaimPacing};
use crate::thread::FlavourLocals;
use std::ptr::NonNull;

impl<F: FlavourLocals> Engine<F> {
    /// Runs `callback` on the reclaim thread after a grace period. A
    /// recycled slot or one allocation (see `defer/callback.rs`); never waits for a grace period (past the hard backlog
    /// limit, a caller that may block waits for reclaim: see
    /// [`CallbackLimits`]).
    #[inline]
    #[track_caller]
    pub fn call_rcu<C: FnOnce() + Send + 'static>(&'static self, callback: C) {
        let (head, func) = crate::defer::callback::box_callback(callback, std::panic::Location::caller());
        // SAFETY: the head is a fresh box owned by the queue until `func`
        // (which frees it) runs.
        unsafe { self.enqueue(head, func) };
    }

    /// Runs `func(head)` on the reclaim thread after a grace period. No
    /// allocation.
    ///
    /// # Safety
    ///
    /// `head` must be valid, not queued already, and stay in place (not
    /// moved, not freed, not reused) until `func` runs; `func(head)` must be
    /// sound to call on the reclaim thread (what it touches must be `Send`).
    #[inline]
    pub unsafe fn call_rcu_raw(&'static self, head: NonNull<RcuHead>, func: CallbackFn) {
        // SAFETY: forwarded contract.
        unsafe { self.enqueue(head, func) };
    }

    /// Queues `head`/`func` on the calling thread's deferral slot (claimed
    /// now if it has none) and counts it.
    ///
    /// # Safety
    ///
    /// As [`Engine::call_rcu_raw`].
    #[inline]
    unsafe fn enqueue(&'static self, head: NonNull<RcuHead>, func: CallbackFn) {
        self.ensure_reclaim_thread();
        let slot = F::defer_key().with(SlotPtr::get).or_else(|| self.register_defer_slot());
        // SAFETY: forwarded contract; `slot` is the calling thread's.
        unsafe { self.reclaimer.enqueue(self.parts(), slot, head, func, || self.may_block()) };
    }

    /// Waits until every callback queued before the call (by any thread)
    /// has run. See `reclaim/mod.rs` for callbacks queued by callbacks.
    ///
    /// # Panics
    ///
    /// Where the caller may not block (see [`Engine::assert_may_block`]), and
    /// from a callback (on the reclaim thread).
    #[track_caller]
    pub fn barrier(&'static self) {
        self.assert_may_block("rcu_barrier()");
        if crate::reclaim::in_reclaim_thread() {
            barrier_in_callback::<F>();
        }
        // Relaxed: the calling thread's own flag.
        if F::defer_key().with(SlotPtr::get).is_some_and(|s| s.is_draining()) {
            barrier_in_kvfree_drop::<F>();
        }
        self.ensure_reclaim_thread();
        self.reclaimer.barrier(self.parts());
    }

    /// A future that completes once every callback (and kvfree object)
    /// queued before this call, by any thread, has run. Its marker is
    /// queued now, with the same sealing and stealing as
    /// [`Engine::barrier`]. Never blocks, not even past the backlog limits;
    /// callable anywhere, even from an RCU callback, where it cannot
    /// complete before the running callback returns (its marker runs
    /// after it), so awaiting it there by blocking would hang.
    pub fn barrier_async(&'static self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.ensure_reclaim_thread();
        self.reclaimer.barrier_async(self.parts())
    }

    /// Sets the `call_rcu` backlog thresholds.
    ///
    /// # Panics
    ///
    /// If `limits.soft > limits.hard`.
    pub fn set_callback_limits(&self, limits: CallbackLimits) {
        self.reclaimer.set_limits(limits);
    }

    /// The `call_rcu` backlog thresholds in force.
    pub fn callback_limits(&self) -> CallbackLimits {
        self.reclaimer.limits()
    }

    /// Sets how the reclaim thread paces its batches (see [`ReclaimPacing`]).
    pub fn set_reclaim_pacing(&self, pacing: ReclaimPacing) {
        self.reclaimer.set_pacing(pacing);
    }

    /// The reclaim pacing in force.
    pub fn reclaim_pacing(&self) -> ReclaimPacing {
        self.reclaimer.pacing()
    }
}

#[cold]
#[track_caller]
fn barrier_in_kvfree_drop<F: FlavourLocals>() -> ! {
    panic!(
        "rcu_{}: rcu_barrier() called from a destructor that kvfree_rcu runs on the retiring thread; \
         the barrier would wait for that destructor itself forever. Call rcu_barrier() outside the \
         destructor, or keep kvfree destructors on the reclaim thread with \
         set_kvfree_drop_on_caller(false)",
        F::NAME
    )
}

#[cold]
#[inline(never)]
#[track_caller]
fn barrier_in_callback<F: FlavourLocals>() -> ! {
    panic!(
        "rcu_{}: rcu_barrier() called from an RCU callback; it would wait for the callback \
         itself forever. Call it from an ordinary thread",
        F::NAME
    )
}
