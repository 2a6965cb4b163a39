//! The public API of each flavour, seen through one trait so the torture
//! code is written once.
//!
//! Every method calls the flavour crate's public function of the same name
//! (not `rcu_core::Engine` directly): the torture test exercises what users
//! call. What differs between the flavours is how a thread takes part:
//!
//! * memb: any thread may read; [`TortureFlavour::Thread`] is a marker for
//!   a thread that called `register_thread()`; blocking calls need no
//!   preparation outside a read-side section.
//! * QSBR: the thread handle is the `QsbrThread`; read-side sections borrow
//!   it; quiescent states need `&mut`; blocking calls go offline first.
//!
//! Adding an API to the torture test means one method here and one line in
//! each impl.

use crate::rng::Rng;
use rcu_core::{CallbackFn, CallbackLimits, Flavour, GpState, RcuFree, RcuHead, ReadSection, Stats};
use rcu_memb::Memb;
use rcu_qsbr::{Qsbr, QsbrThread};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A flavour's public API, as the torture test uses it.
pub trait TortureFlavour: Flavour {
    /// A registered thread (`!Send`).
    type Thread;
    /// A read-side section of `Self`, borrowing the thread for `'t`.
    type Guard<'t>: ReadSection<Self>;

    /// Registers the calling thread.
    fn register() -> Self::Thread;
    /// Unregisters the calling thread explicitly.
    fn unregister(thread: Self::Thread);
    /// Lets the thread exit still registered: the flavour's thread-exit
    /// destructor must release it.
    fn exit_registered(thread: Self::Thread);
    /// Enters a read-side section (nestable).
    fn read_lock(thread: &Self::Thread) -> Self::Guard<'_>;
    /// Announces a quiescent state (QSBR); nothing to do for memb, whose
    /// sections end when their guard drops.
    fn quiescent(thread: &mut Self::Thread);
    /// Steps out of reading for a moment, the way the flavour allows: QSBR
    /// goes offline (sometimes calling `synchronize_rcu` while offline) and
    /// back online; memb unregisters and registers again.
    fn pause(thread: &mut Self::Thread, rng: &mut Rng);
    /// Runs `f`, which may block for a grace period (QSBR: offline).
    fn blocking<R>(thread: &mut Self::Thread, f: impl FnOnce() -> R) -> R;
    /// The registered thread's own `synchronize_rcu`.
    fn synchronize(thread: &mut Self::Thread);
    /// `synchronize_rcu` from a thread that is not a registered reader.
    fn synchronize_unregistered();
    /// `start_poll_synchronize_rcu`.
    fn start_poll() -> GpState;
    /// `poll_state_synchronize_rcu`.
    fn poll(cookie: GpState) -> bool;
    /// `cond_synchronize_rcu` (the caller may block).
    fn cond_synchronize(cookie: GpState);
    /// `get_state_synchronize_rcu`.
    fn get_state() -> GpState;
    /// `call_rcu` (never waits for a grace period).
    fn call_rcu(callback: impl FnOnce() + Send + 'static);
    /// `call_rcu_raw`.
    ///
    /// # Safety
    ///
    /// As the flavour's `call_rcu_raw`: `head` valid, not queued, kept in
    /// place until `func` runs; `func(head)` sound on another thread.
    unsafe fn call_rcu_raw(head: NonNull<RcuHead>, func: CallbackFn);
    /// `kvfree_rcu` (a `Box<T>` for any `T: ?Sized`, or a `Vec<T>`).
    fn kvfree<P: RcuFree>(object: P);
    /// `kvfree_rcu_vec`.
    fn kvfree_vec<T: Send + 'static>(v: Vec<T>);
    /// `rcu_barrier` from a registered thread (QSBR: offline meanwhile).
    fn barrier(thread: &mut Self::Thread);
    /// `rcu_barrier` from a thread that is not a registered reader.
    fn barrier_unregistered();
    /// `callback_limits`.
    fn callback_limits() -> CallbackLimits;
    /// `set_callback_limits`.
    fn set_callback_limits(limits: CallbackLimits);
    /// `reclaim_now`.
    fn reclaim_now() -> usize;
    /// `set_kvfree_drain_interval`.
    fn set_kvfree_drain_interval(interval: std::time::Duration);
    /// `stats`.
    fn stats() -> Stats;
    /// `state_report`.
    fn state_report() -> String;
}

/// A memb thread that called `register_thread()`. `!Send`: registration
/// belongs to the thread.
#[derive(Debug)]
pub struct MembThread {
    _not_send: PhantomData<*const ()>,
}

impl TortureFlavour for Memb {
    type Thread = MembThread;
    type Guard<'t> = rcu_memb::ReadGuard;

    fn register() -> MembThread {
        rcu_memb::register_thread();
        MembThread { _not_send: PhantomData }
    }
    fn unregister(_thread: MembThread) {
        rcu_memb::unregister_thread();
    }
    fn exit_registered(_thread: MembThread) {}
    fn read_lock(_thread: &MembThread) -> rcu_memb::ReadGuard {
        rcu_memb::read_lock()
    }
    fn quiescent(_thread: &mut MembThread) {}
    fn pause(_thread: &mut MembThread, rng: &mut Rng) {
        rcu_memb::unregister_thread();
        if rng.one_in(2) {
            std::thread::yield_now();
        }
        rcu_memb::register_thread();
    }
    fn blocking<R>(_thread: &mut MembThread, f: impl FnOnce() -> R) -> R {
        f()
    }
    fn synchronize(_thread: &mut MembThread) {
        rcu_memb::synchronize_rcu();
    }
    fn synchronize_unregistered() {
        rcu_memb::synchronize_rcu();
    }
    fn start_poll() -> GpState {
        rcu_memb::start_poll_synchronize_rcu()
    }
    fn poll(cookie: GpState) -> bool {
        rcu_memb::poll_state_synchronize_rcu(cookie)
    }
    fn cond_synchronize(cookie: GpState) {
        rcu_memb::cond_synchronize_rcu(cookie);
    }
    fn get_state() -> GpState {
        rcu_memb::get_state_synchronize_rcu()
    }
    fn call_rcu(callback: impl FnOnce() + Send + 'static) {
        rcu_memb::call_rcu(callback);
    }
    unsafe fn call_rcu_raw(head: NonNull<RcuHead>, func: CallbackFn) {
        // SAFETY: forwarded contract.
        unsafe { rcu_memb::call_rcu_raw(head, func) }
    }
    fn kvfree<P: RcuFree>(object: P) {
        rcu_memb::kvfree_rcu(object);
    }
    fn kvfree_vec<T: Send + 'static>(v: Vec<T>) {
        rcu_memb::kvfree_rcu_vec(v);
    }
    fn barrier(_thread: &mut MembThread) {
        rcu_memb::rcu_barrier();
    }
    fn barrier_unregistered() {
        rcu_memb::rcu_barrier();
    }
    fn callback_limits() -> CallbackLimits {
        rcu_memb::callback_limits()
    }
    fn set_callback_limits(limits: CallbackLimits) {
        rcu_memb::set_callback_limits(limits);
    }
    fn reclaim_now() -> usize {
        rcu_memb::reclaim_now()
    }
    fn set_kvfree_drain_interval(interval: std::time::Duration) {
        rcu_memb::set_kvfree_drain_interval(interval);
    }
    fn stats() -> Stats {
        rcu_memb::stats()
    }
    fn state_report() -> String {
        rcu_memb::state_report()
    }
}

impl TortureFlavour for Qsbr {
    type Thread = QsbrThread;
    type Guard<'t> = rcu_qsbr::ReadGuard<'t>;

    fn register() -> QsbrThread {
        rcu_qsbr::register_thread()
    }
    fn unregister(thread: QsbrThread) {
        drop(thread);
    }
    fn exit_registered(thread: QsbrThread) {
        // Still online; the handle goes into a thread-local, dropped at
        // thread exit. Whichever destructor runs first, the slot must be
        // released exactly when the handle is dropped: if the engine's own
        // thread state goes first it keeps the slot for the handle. (A handle
        // leaked with mem::forget keeps its slot online for good, by design:
        // guards borrowing a leaked handle could still exist.)
        thread_local!(static LATE: std::cell::RefCell<Option<QsbrThread>> = const { std::cell::RefCell::new(None) });
        LATE.with(|l| *l.borrow_mut() = Some(thread));
    }
    fn read_lock(thread: &QsbrThread) -> rcu_qsbr::ReadGuard<'_> {
        thread.read_lock()
    }
    fn quiescent(thread: &mut QsbrThread) {
        thread.quiescent_state();
    }
    fn pause(thread: &mut QsbrThread, rng: &mut Rng) {
        match rng.below(3) {
            0 => {
                thread.offline();
                // A free synchronize_rcu is allowed while offline.
                rcu_qsbr::synchronize_rcu();
                thread.online();
            }
            1 => thread.offline_scope(|| std::thread::sleep(std::time::Duration::from_micros(rng.below(200)))),
            _ => thread.synchronize_rcu(),
        }
    }
    fn blocking<R>(thread: &mut QsbrThread, f: impl FnOnce() -> R) -> R {
        thread.offline_scope(f)
    }
    fn synchronize(thread: &mut QsbrThread) {
        thread.synchronize_rcu();
    }
    fn synchronize_unregistered() {
        rcu_qsbr::synchronize_rcu();
    }
    fn start_poll() -> GpState {
        rcu_qsbr::start_poll_synchronize_rcu()
    }
    fn poll(cookie: GpState) -> bool {
        rcu_qsbr::poll_state_synchronize_rcu(cookie)
    }
    fn cond_synchronize(cookie: GpState) {
        rcu_qsbr::cond_synchronize_rcu(cookie);
    }
    fn get_state() -> GpState {
        rcu_qsbr::get_state_synchronize_rcu()
    }
    fn call_rcu(callback: impl FnOnce() + Send + 'static) {
        rcu_qsbr::call_rcu(callback);
    }
    unsafe fn call_rcu_raw(head: NonNull<RcuHead>, func: CallbackFn) {
        // SAFETY: forwarded contract.
        unsafe { rcu_qsbr::call_rcu_raw(head, func) }
    }
    fn kvfree<P: RcuFree>(object: P) {
        rcu_qsbr::kvfree_rcu(object);
    }
    fn kvfree_vec<T: Send + 'static>(v: Vec<T>) {
        rcu_qsbr::kvfree_rcu_vec(v);
    }
    fn barrier(thread: &mut QsbrThread) {
        thread.offline_scope(rcu_qsbr::rcu_barrier);
    }
    fn barrier_unregistered() {
        rcu_qsbr::rcu_barrier();
    }
    fn callback_limits() -> CallbackLimits {
        rcu_qsbr::callback_limits()
    }
    fn set_callback_limits(limits: CallbackLimits) {
        rcu_qsbr::set_callback_limits(limits);
    }
    fn reclaim_now() -> usize {
        rcu_qsbr::reclaim_now()
    }
    fn set_kvfree_drain_interval(interval: std::time::Duration) {
        rcu_qsbr::set_kvfree_drain_interval(interval);
    }
    fn stats() -> Stats {
        rcu_qsbr::stats()
    }
    fn state_report() -> String {
        rcu_qsbr::state_report()
    }
}
