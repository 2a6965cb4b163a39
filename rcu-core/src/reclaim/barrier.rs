//! `rcu_barrier`: a marker queued behind every callback, whose callback
//! wakes the caller (module docs of `reclaim`, "rcu_barrier").
//!
//! The blocking barrier's marker lives on the caller's stack and unparks
//! it. The async barrier's ([`BarrierWait`]) lives on the heap, shared by
//! the queued callback and the future, so the future may be dropped before
//! the marker runs; its callback sets `done` and wakes the waker the
//! future last stored. Both are queued by [`Reclaimer::queue_marker`].

use super::state::{Parts, Reclaimer};
use crate::defer::callback::{CallbackFn, RcuHead};
use crate::defer::deferrals::Steal;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

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

/// An `rcu_barrier_async` future's marker, in an `Arc`: one reference is
/// the queued callback's, one the future's.
#[repr(C)]
struct AsyncMarker {
    head: RcuHead,
    done: AtomicBool,
    /// The waker of the future's latest pending poll. A lock held only to
    /// swap a waker: the marker's callback takes it after setting `done`,
    /// the future stores it before re-checking `done`, so whichever locks
    /// second sees the other's write (no lost wake-up, no fences needed).
    waker: Mutex<Option<Waker>>,
    /// The reclaimer's `barriers_waiting`, released when the marker runs.
    waiting: &'static AtomicU32,
}

/// The async marker's callback: counts the barrier done and wakes the
/// future, if it still exists and has polled.
///
/// # Safety
///
/// `head` is the first field of an `AsyncMarker` whose callback reference
/// was leaked by `Arc::into_raw` in `Reclaimer::barrier_async`.
unsafe fn async_marker_ran(head: NonNull<RcuHead>) {
    // SAFETY: per the contract; this takes back the callback's reference
    // (`head` is at offset 0 of the `repr(C)` marker `into_raw` pointed to).
    let m = unsafe { Arc::from_raw(head.cast::<AsyncMarker>().as_ptr()) };
    // Relaxed: only the count of waiters (see `is_urgent`). Saturating: a
    // forked child resets the count but keeps async markers queued.
    let _ = m.waiting.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    // Release pairs with the Acquire loads in `BarrierWait::poll`: every
    // callback run before the marker happens-before the future's `Ready`.
    m.done.store(true, Ordering::Release);
    let waker = m.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Whether `func` is a barrier marker's callback (of either kind).
pub(super) fn is_marker(func: CallbackFn) -> bool {
    is_stack_marker(func) || std::ptr::fn_addr_eq(func, async_marker_ran as CallbackFn)
}

/// Whether `func` is a blocking barrier's marker (on a caller's stack).
pub(super) fn is_stack_marker(func: CallbackFn) -> bool {
    std::ptr::fn_addr_eq(func, barrier_marker_ran as CallbackFn)
}

/// The future of `rcu_barrier_async`: ready once its marker has run.
pub(crate) struct BarrierWait {
    marker: Arc<AsyncMarker>,
}

impl Future for BarrierWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let m = &self.marker;
        // Acquire pairs with the Release store in `async_marker_ran`.
        if m.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        {
            let mut slot = m.waker.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                other => *other = Some(cx.waker().clone()),
            }
        }
        // Acquire: as above. After storing the waker: a marker that ran
        // meanwhile either found it or set `done` before we locked.
        if m.done.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Reclaimer {
    /// What every barrier does: seals the partial kvfree blocks of every
    /// thread and steals their callback lists, counts the barrier as
    /// waiting, queues `head` behind everything handed over so far and
    /// kicks the thread. The caller has started the thread.
    ///
    /// # Safety
    ///
    /// As `call_rcu_raw`: `head` stays in place until `func` runs.
    unsafe fn queue_marker(
        &'static self,
        parts: Parts<'_>,
        head: NonNull<RcuHead>,
        func: CallbackFn,
        may_block: impl Fn() -> bool,
    ) {
        // Partial kvfree blocks of every thread, idle or not, are sealed
        // first; the marker, queued after, runs after they are freed (see
        // `next_step`: the queue is taken before the inbox, and ready blocks
        // are freed before ready callbacks run).
        // So are the callback lists of every thread (handed to the queue
        // before the marker).
        parts.kvfree.steal(parts.defer, parts.sequence, Steal::Barrier, || self.under_pressure(parts));
        // Relaxed: a statistic.
        self.barriers.fetch_add(1, Ordering::Relaxed);
        // SeqCst: read by the reclaim thread (`is_urgent`, SeqCst) after
        // the kick below wakes it.
        self.barriers_waiting.fetch_add(1, Ordering::SeqCst);
        // On the shared queue, behind everything handed over so far (never
        // on this thread's own list, which no one would steal before the
        // marker runs).
        // SAFETY: forwarded contract.
        unsafe { parts.defer.queue.push(head, func) };
        self.count_and_check(parts, may_block);
        parts.defer.wake.kick();
    }

    /// Waits until every callback queued before the call has run. The
    /// caller has started the thread and checked that it may block.
    pub(crate) fn barrier(&'static self, parts: Parts<'_>) {
        let marker =
            BarrierMarker { head: RcuHead::new(), done: AtomicBool::new(false), waiter: std::thread::current() };
        // SAFETY: the marker stays in place on this stack frame until its
        // callback ran (we wait for `done` below before returning). The
        // caller may block (checked by the engine).
        unsafe { self.queue_marker(parts, NonNull::from(&marker.head), barrier_marker_ran, || true) };
        // Acquire pairs with the Release store in `barrier_marker_ran`.
        while !marker.done.load(Ordering::Acquire) {
            std::thread::park();
        }
        // Relaxed: only the count of waiters (see `is_urgent`).
        self.barriers_waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Queues an async barrier's marker now and returns the future that
    /// completes once it has run. Never blocks (not even past the backlog
    /// limits). The caller has started the thread.
    pub(crate) fn barrier_async(&'static self, parts: Parts<'_>) -> BarrierWait {
        let marker = Arc::new(AsyncMarker {
            head: RcuHead::new(),
            done: AtomicBool::new(false),
            waker: Mutex::new(None),
            waiting: &self.barriers_waiting,
        });
        let head = Arc::into_raw(Arc::clone(&marker)).cast::<RcuHead>().cast_mut();
        // SAFETY: `into_raw` leaked one reference, which keeps the marker
        // (and its head, at offset 0 of the `repr(C)` struct) in place until
        // `async_marker_ran` takes the reference back; a pointer from
        // `into_raw` is never null.
        unsafe { self.queue_marker(parts, NonNull::new_unchecked(head), async_marker_ran, || false) };
        BarrierWait { marker }
    }
}
