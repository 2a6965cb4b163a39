//! `rcu_barrier`: a marker queued behind every callback, whose callback
//! wakes the caller (module docs of `reclaim`, "rcu_barrier").

use super::state::{Parts, Reclaimer};
use crate::defer::callback::{CallbackFn, RcuHead};
use crate::defer::deferrals::Steal;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

/// An `rcu_barrier` caller's marker, on its stack.
#[repr(C)]
struct BarrierMarker {
    head: RcuHead,
    done: AtomicBool,
    waiter: std::thread::Thread,
}

/// The marker's callback: wakes the `rcu_barrier` caller.
///
/// # Safety
///
/// `head` is the first field of a `BarrierMarker` whose owner waits for `done`.
unsafe fn barrier_marker_ran(head: NonNull<RcuHead>) {
    // SAFETY: per the contract; the owner is parked until `done` is set.
    let m = unsafe { head.cast::<BarrierMarker>().as_ref() };
    // Clone first: once `done` is visible the marker may be gone.
    let waiter = m.waiter.clone();
    // Release pairs with the Acquire load in `Reclaimer::barrier`: every
    // callback run before the marker happens-before the barrier's return.
    m.done.store(true, Ordering::Release);
    waiter.unpark();
}

/// Whether `func` is a barrier marker's callback.
pub(super) fn is_marker(func: CallbackFn) -> bool {
    std::ptr::fn_addr_eq(func, barrier_marker_ran as CallbackFn)
}

impl Reclaimer {
    /// Waits until every callback queued before the call has run. The
    /// caller has started the thread and checked that it may block.
    pub(crate) fn barrier(&'static self, parts: Parts<'_>) {
        // Partial kvfree blocks of every thread, idle or not, are sealed
        // first; the marker, queued after, runs after they are freed (see
        // `next_step`: the queue is taken before the inbox, and ready blocks
        // are freed before ready callbacks run).
        // So are the callback lists of every thread (handed to the queue
        // before the marker).
        parts.kvfree.steal(parts.defer, parts.sequence, Steal::Barrier, || self.under_pressure(parts));
        let marker =
            BarrierMarker { head: RcuHead::new(), done: AtomicBool::new(false), waiter: std::thread::current() };
        // Relaxed: a statistic.
        self.barriers.fetch_add(1, Ordering::Relaxed);
        // SeqCst: read by the reclaim thread (`is_urgent`, SeqCst) after
        // the kick below wakes it.
        self.barriers_waiting.fetch_add(1, Ordering::SeqCst);
        // On the shared queue, behind everything handed over so far (never
        // on this thread's own list, which no one would steal before the
        // marker runs).
        // SAFETY: the marker stays in place on this stack frame until its
        // callback ran (we wait for `done` below before returning).
        unsafe { parts.defer.queue.push(NonNull::from(&marker.head), barrier_marker_ran) };
        // The caller may block (checked by the engine).
        self.count_and_check(parts, || true);
        parts.defer.wake.kick();
        // Acquire pairs with the Release store in `barrier_marker_ran`.
        while !marker.done.load(Ordering::Acquire) {
            std::thread::park();
        }
        // Relaxed: only the count of waiters (see `is_urgent`).
        self.barriers_waiting.fetch_sub(1, Ordering::Relaxed);
    }
}
