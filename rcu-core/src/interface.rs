//! [`RcuFlavour`]: the one public interface every flavour implements, for
//! code written once for all of them (the torture test, the benches, the
//! examples, users' own generic code).
//!
//! A flavour supplies only its read side: how a thread registers, enters a
//! section, announces a quiescent state and steps offline. Everything else
//! (grace periods, callbacks, kvfree, polling, statistics) is provided here
//! from the flavour's [`Engine`](crate::Engine), the same calls the flavour
//! crate's free functions make.

use crate::defer::callback::{CallbackFn, RcuHead};
use crate::flavour::{Flavour, ReadSection};
use crate::gp::sequence::GpState;
use crate::kvfree::RcuFree;
use crate::reclaim::{CallbackLimits, ReclaimPacing};
use crate::stats::Stats;
use std::future::Future;
use std::ptr::NonNull;
use std::time::Duration;

/// A flavour of RCU as generic code sees it: `F::register_thread()`,
/// `F::read_lock(&thread)`, `F::synchronize_rcu()`, `F::kvfree_rcu(..)`,
/// and [`RcuCell<T, F>`](crate::RcuCell) for its cells.
///
/// What differs between flavours is how a thread takes part:
///
/// * memb: any thread may read; the [`Thread`](Self::Thread) handle is a
///   marker of registration; a quiescent state and offline are no-ops
///   (sections end when their guard drops).
/// * QSBR: the handle is the `QsbrThread`; guards borrow it; quiescent
///   states need `&mut`; a thread that may block goes offline first
///   ([`offline_scope`](Self::offline_scope)).
///
/// Code that follows the QSBR discipline (a quiescent state between
/// sections, blocking calls inside `offline_scope`) is correct for every
/// flavour:
///
/// ```
/// use rcu_core::{RcuCell, RcuFlavour};
///
/// /// Reads `cell` `n` times, then replaces it and waits for the old value's
/// /// grace period: written once, run on both flavours.
/// fn read_then_update<F: RcuFlavour>(cell: &RcuCell<u64, F>, n: u64) -> u64 {
///     let mut thread = F::register_thread();
///     let mut sum = 0;
///     for _ in 0..n {
///         let guard = F::read_lock(&thread);
///         sum += *cell.load(&guard);
///         drop(guard);
///         F::quiescent_state(&mut thread);
///     }
///     F::offline_scope(&mut thread, || {
///         cell.replace(sum);
///         F::rcu_barrier(); // the replaced value has been dropped
///     });
///     F::unregister_thread(thread);
///     sum
/// }
///
/// let memb = rcu_memb::RcuCell::new(2);
/// assert_eq!(read_then_update(&memb, 3), 6);
/// let qsbr = rcu_qsbr::RcuCell::new(5);
/// assert_eq!(read_then_update(&qsbr, 2), 10);
/// assert_eq!(*qsbr.load(&rcu_qsbr::register_thread().read_lock()), 10);
/// ```
pub trait RcuFlavour: Flavour + Sized + Send + Sync + 'static {
    /// The calling thread's registration as a reader; `!Send`, it belongs
    /// to its thread.
    type Thread: 'static;
    /// A read-side section, borrowing the thread handle for `'t`.
    type Guard<'t>: ReadSection<Self>;
    /// Whether readers must announce quiescent states for grace periods to
    /// end (QSBR).
    const NEEDS_QUIESCENT_STATES: bool;

    /// Registers the calling thread as a reader (online, for QSBR).
    ///
    /// # Panics
    ///
    /// Where the flavour allows one handle per thread (QSBR) and the
    /// thread already has one.
    fn register_thread() -> Self::Thread;
    /// Unregisters the calling thread (going offline first, for QSBR).
    fn unregister_thread(thread: Self::Thread);
    /// Enters a read-side section (nestable).
    fn read_lock(thread: &Self::Thread) -> Self::Guard<'_>;
    /// Announces a quiescent state: no reference from an earlier section
    /// survives this point. A no-op where sections end with their guard.
    #[inline]
    fn quiescent_state(thread: &mut Self::Thread) {
        let _ = thread;
    }
    /// Runs `f` in an extended quiescent state, so it may block for a grace
    /// period (`synchronize_rcu`, `rcu_barrier`, a lock, a sleep). Just
    /// `f()` where the thread holds no grace period up between sections.
    #[inline]
    fn offline_scope<R>(thread: &mut Self::Thread, f: impl FnOnce() -> R) -> R {
        let _ = thread;
        f()
    }

    /// Waits until every read-side section that began before the call has
    /// ended. From a registered QSBR thread, call it inside
    /// [`offline_scope`](Self::offline_scope).
    ///
    /// # Panics
    ///
    /// Where the calling thread may not block (inside a read-side section,
    /// or an online QSBR thread).
    #[track_caller]
    fn synchronize_rcu() {
        Self::engine().synchronize();
    }
    /// A future that completes after a grace period that starts after this
    /// call (every read-side section that began before the call has
    /// ended). Never blocks; any executor (the engine wakes the future's
    /// `Waker`). Concurrent awaiters share grace periods.
    fn synchronize_rcu_async() -> impl Future<Output = ()> + Send + 'static {
        Self::engine().synchronize_async()
    }
    /// Starts a grace period if needed and returns its cookie. Never blocks.
    fn start_poll_synchronize_rcu() -> GpState {
        Self::engine().start_poll()
    }
    /// The cookie of the grace period that would cover readers active now,
    /// without starting one. Never blocks.
    fn get_state_synchronize_rcu() -> GpState {
        Self::engine().sequence().snapshot()
    }
    /// Whether `cookie`'s grace period has completed. Never blocks.
    #[inline]
    fn poll_state_synchronize_rcu(cookie: GpState) -> bool {
        Self::engine().poll(cookie)
    }
    /// Waits for `cookie`'s grace period unless it has completed; panics as
    /// [`synchronize_rcu`](Self::synchronize_rcu) where it must wait.
    #[track_caller]
    fn cond_synchronize_rcu(cookie: GpState) {
        Self::engine().cond_synchronize(cookie);
    }
    /// Runs `callback` on the reclaim thread after a grace period.
    #[inline]
    #[track_caller]
    fn call_rcu<C: FnOnce() + Send + 'static>(callback: C) {
        Self::engine().call_rcu(callback);
    }
    /// Runs `func(head)` on the reclaim thread after a grace period.
    ///
    /// # Safety
    ///
    /// `head` must be valid, not already queued, and stay in place until
    /// `func` runs; `func(head)` must be sound to run on another thread.
    #[inline]
    unsafe fn call_rcu_raw(head: NonNull<RcuHead>, func: CallbackFn) {
        // SAFETY: forwarded contract.
        unsafe { Self::engine().call_rcu_raw(head, func) }
    }
    /// Drops `object` (a `Box<T>` or a `Vec<T>`) after a grace period,
    /// headless and batched per thread.
    #[inline]
    fn kvfree_rcu<P: RcuFree>(object: P) {
        Self::engine().kvfree(object);
    }
    /// Returns once everything queued before the call, by any thread, has
    /// been run or dropped: callbacks of [`call_rcu`](Self::call_rcu),
    /// objects of [`kvfree_rcu`](Self::kvfree_rcu) (every thread's partial
    /// block included), and old values retired by an [`RcuCell`](crate::RcuCell)
    /// or [`RcuOption`](crate::RcuOption) (they go through `kvfree_rcu`).
    /// Not what is queued after the call starts, nor a
    /// [`Retired`](crate::Retired) still held.
    ///
    /// # Panics
    ///
    /// As [`synchronize_rcu`](Self::synchronize_rcu), and from a callback.
    #[track_caller]
    fn rcu_barrier() {
        Self::engine().barrier();
    }
    /// A future that completes after every callback, kvfree object and
    /// value retired through an `RcuCell` before the call has been run or
    /// dropped (the marker is queued by the call). Never blocks; any
    /// executor; callable from a callback (it completes after it returns).
    fn rcu_barrier_async() -> impl Future<Output = ()> + Send + 'static {
        Self::engine().barrier_async()
    }
    /// Counters of this flavour.
    fn stats() -> Stats {
        Self::engine().stats()
    }
    /// The grace-period state and every active reader, for hang reports.
    fn state_report() -> String {
        Self::engine().state_report()
    }
    /// The `call_rcu` backlog thresholds in force.
    fn callback_limits() -> CallbackLimits {
        Self::engine().callback_limits()
    }
    /// Sets the `call_rcu` backlog thresholds.
    ///
    /// # Panics
    ///
    /// If `limits.soft > limits.hard`.
    fn set_callback_limits(limits: CallbackLimits) {
        Self::engine().set_callback_limits(limits);
    }
    /// The reclaim thread's pacing in force.
    fn reclaim_pacing() -> ReclaimPacing {
        Self::engine().reclaim_pacing()
    }
    /// Sets the reclaim thread's pacing.
    fn set_reclaim_pacing(pacing: ReclaimPacing) {
        Self::engine().set_reclaim_pacing(pacing);
    }
    /// Sets how long a partial kvfree block may wait before it is sealed.
    fn set_kvfree_drain_interval(interval: Duration) {
        Self::engine().set_kvfree_drain_interval(interval);
    }
    /// Sets whether a `Drop` run by `kvfree_rcu` (and for values cells
    /// retire) may run on the retiring thread (default `true`); `false`
    /// keeps every such destructor on the reclaim thread.
    fn set_kvfree_drop_on_caller(on: bool) {
        Self::engine().set_kvfree_drop_on_caller(on);
    }
    /// Drops cached empty kvfree blocks and spare callback slots; returns
    /// how many blocks were freed.
    fn reclaim_now() -> usize {
        Self::engine().reclaim_now()
    }
}
