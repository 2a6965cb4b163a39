//! Userspace RCU, quiescent-state-based flavour (liburcu's `urcu-qsbr`).
//!
//! Most users depend on the facade crate `rcu`, which re-exports this
//! crate as `rcu::qsbr` (feature `qsbr`, on by default) and explains
//! which flavour to choose; depend on this crate directly only to keep
//! the other flavours out of the build.
//!
//! ## This flavour
//!
//! Readers pay nothing: a read-side section is a compile-time marker. In
//! exchange, each reader thread registers ([`register_thread`]) and
//! periodically announces a quiescent state
//! ([`QsbrThread::quiescent_state`]), a point where it holds no reference to
//! RCU-protected data; a grace period ends when every online thread has
//! announced one. Threads about to block go offline
//! ([`QsbrThread::offline_scope`]) so they do not hold grace periods up.
//!
//! ```
//! use rcu_qsbr::{register_thread, RcuCell};
//!
//! let table = RcuCell::new(vec![1, 2, 3]);
//! let mut thread = register_thread();
//! for _ in 0..3 {
//!     {
//!         let guard = thread.read_lock();
//!         assert_eq!(table.load(&guard).len(), 3);
//!     }
//!     thread.quiescent_state(); // no reference survives this point
//! }
//! thread.offline_scope(|| table.replace(vec![4])); // writers may block: go offline
//! assert_eq!(table.load(&thread.read_lock()), &[4]);
//! ```
//!
//! ## A server in brief
//!
//! Worker threads take requests from a queue and read the configuration
//! that another thread reloads. A worker is offline while it waits for
//! work, so an idle worker never holds a grace period up, and announces a
//! quiescent state after each request:
//!
//! ```
//! use rcu_qsbr::{register_thread, RcuCell};
//! use std::sync::{mpsc, Mutex};
//!
//! struct Config {
//!     limit: u64,
//! }
//!
//! let config = RcuCell::new(Config { limit: 10 });
//! let (requests, queue) = mpsc::channel::<u64>();
//! let queue = Mutex::new(queue);
//! let answered: u64 = std::thread::scope(|s| {
//!     let workers: Vec<_> = (0..3)
//!         .map(|_| {
//!             s.spawn(|| {
//!                 let mut me = register_thread();
//!                 let mut answered = 0;
//!                 while let Ok(request) = me.offline_scope(|| queue.lock().unwrap().recv()) {
//!                     let guard = me.read_lock();
//!                     if request <= config.load(&guard).limit {
//!                         answered += 1;
//!                     }
//!                     drop(guard);
//!                     me.quiescent_state(); // no reference survives a request
//!                 }
//!                 answered
//!             })
//!         })
//!         .collect();
//!     // The reloader (here the main thread, not registered: it may block).
//!     for limit in 11..=20 {
//!         config.replace(Config { limit }); // never waits for the workers
//!         requests.send(limit).unwrap(); // sent after the reload it needs
//!     }
//!     drop(requests);
//!     workers.into_iter().map(|w| w.join().unwrap()).sum()
//! });
//! assert_eq!(answered, 10);
//! rcu_qsbr::rcu_barrier(); // every replaced Config has been freed
//! ```
//!
//! A quiescent state while a guard is alive does not compile:
//!
//! ```compile_fail
//! let mut thread = rcu_qsbr::register_thread();
//! let guard = thread.read_lock();
//! thread.quiescent_state(); // error: `thread` is borrowed by `guard`
//! drop(guard);
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use rcu_core::ReaderSlot;
use std::marker::PhantomData;

rcu_core::define_flavour_api!(Qsbr, ENGINE, "rcu_qsbr", "drop(rcu_qsbr::register_thread());");

rcu_core::define_flavour!(
    Qsbr,
    "qsbr",
    rcu_core::Protocol::Increment,
    "The QSBR flavour, as a type for generic code ([`RcuFlavour`])."
);

/// The calling thread's registration as a QSBR reader. Created online.
///
/// `!Send`: it stays on its thread. Dropping it goes offline and
/// unregisters. One per thread: a second [`register_thread`] on the same
/// thread panics.
pub struct QsbrThread {
    slot: &'static ReaderSlot,
    /// Mirrors "the slot's word is not offline", kept here so `read_lock`'s
    /// check is one load of the handle (hoisted out of a reader's loop),
    /// not a load through the slot pointer.
    online: bool,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for QsbrThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QsbrThread").field("online", &self.is_online()).finish()
    }
}

/// A QSBR read-side section: free. It borrows the [`QsbrThread`], so no
/// quiescent state, offline period or unregistration can happen while it
/// lives.
#[must_use = "a read-side section protects only while the guard lives"]
pub struct ReadGuard<'t> {
    _thread: PhantomData<&'t QsbrThread>,
}

// SAFETY: a ReadGuard borrows an online QsbrThread (read_lock checks it;
// going offline needs `&mut`), is !Send (it borrows a !Sync QsbrThread), and
// the thread cannot announce a quiescent state while the borrow lives: that
// is a QSBR read-side section.
unsafe impl rcu_core::ReadSection<Qsbr> for ReadGuard<'_> {}

impl std::fmt::Debug for ReadGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadGuard").finish_non_exhaustive()
    }
}

/// Registers the calling thread as a QSBR reader, online.
///
/// # Panics
///
/// If the thread already has a [`QsbrThread`]:
///
/// ```should_panic
/// let _first = rcu_qsbr::register_thread();
/// let _second = rcu_qsbr::register_thread(); // panics: "already registered"
/// ```
pub fn register_thread() -> QsbrThread {
    if ENGINE.current_slot().is_some() {
        already_registered();
    }
    let slot = ENGINE.register_current();
    ENGINE.set_handle_alive(true);
    let mut thread = QsbrThread { slot, online: false, _not_send: PhantomData };
    thread.online();
    thread
}

#[cold]
#[track_caller]
fn read_lock_offline() -> ! {
    panic!("rcu_qsbr: read_lock() on an offline thread; grace periods do not wait for it. Call online() first")
}

#[cold]
#[track_caller]
fn already_registered() -> ! {
    panic!(
        "rcu_qsbr::register_thread(): this thread is already registered; keep one QsbrThread \
         per thread and pass `&mut QsbrThread` to the code that needs it"
    )
}

impl QsbrThread {
    /// Enters a read-side section. Costs one load of the handle and a
    /// predictable branch (the check that the thread is online, which
    /// soundness needs: an offline thread is not waited for); in a reader's
    /// loop the compiler hoists it.
    ///
    /// # Panics
    ///
    /// If the thread is offline.
    #[inline]
    pub fn read_lock(&self) -> ReadGuard<'_> {
        if !self.is_online() {
            read_lock_offline();
        }
        ReadGuard { _thread: PhantomData }
    }

    /// Announces a quiescent state: no reference obtained in an earlier
    /// read-side section is used after this call. One load and a compare
    /// when no grace period is waiting; otherwise two fences and a store.
    #[inline]
    pub fn quiescent_state(&mut self) {
        // SAFETY: `&mut self` proves no guard (hence no reference from a
        // read-side section) is alive; the handle is !Send, so this is the
        // owner thread.
        unsafe { self.slot.qsbr_quiescent_state(ENGINE.counter().ctr()) };
    }

    /// Enters an extended quiescent state (e.g. before blocking). Grace
    /// periods do not wait for an offline thread.
    pub fn offline(&mut self) {
        self.online = false;
        // SAFETY: as in `quiescent_state`.
        unsafe { self.slot.qsbr_offline() };
    }

    /// Leaves the extended quiescent state.
    pub fn online(&mut self) {
        // SAFETY: the handle is !Send, so this is the owner thread.
        unsafe { self.slot.qsbr_online(ENGINE.counter().ctr()) };
        self.online = true;
    }

    /// Whether the thread is online.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Runs `f` offline (for blocking calls), then comes back online, also
    /// when `f` panics.
    ///
    /// ```
    /// let mut t = rcu_qsbr::register_thread();
    /// t.offline_scope(|| std::thread::sleep(std::time::Duration::from_millis(1)));
    /// assert!(t.is_online());
    /// ```
    pub fn offline_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        struct Online<'a>(&'a mut QsbrThread, bool);
        impl Drop for Online<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.online();
                }
            }
        }
        let was_online = self.is_online();
        if was_online {
            self.offline();
        }
        let _back = Online(self, was_online);
        f()
    }

    /// Waits for a grace period; the thread is offline while it waits, so it
    /// does not wait for itself.
    ///
    /// ```
    /// let mut t = rcu_qsbr::register_thread();
    /// t.synchronize_rcu();
    /// assert!(t.is_online());
    /// ```
    pub fn synchronize_rcu(&mut self) {
        self.offline_scope(|| ENGINE.synchronize());
    }
}

impl Drop for QsbrThread {
    fn drop(&mut self) {
        self.offline();
        ENGINE.unregister_current();
        ENGINE.set_handle_alive(false);
    }
}

/// Waits for a grace period from a thread that is not an online QSBR
/// reader (unregistered, or offline). May block.
///
/// # Panics
///
/// From an online registered thread: use [`QsbrThread::synchronize_rcu`].
///
/// ```should_panic
/// let _t = rcu_qsbr::register_thread();
/// rcu_qsbr::synchronize_rcu(); // panics: "called from an online QSBR thread"
/// ```
#[track_caller]
pub fn synchronize_rcu() {
    ENGINE.synchronize();
}

impl rcu_core::RcuFlavour for Qsbr {
    type Thread = QsbrThread;
    type Guard<'t> = ReadGuard<'t>;
    const NEEDS_QUIESCENT_STATES: bool = true;

    fn register_thread() -> QsbrThread {
        register_thread()
    }
    fn unregister_thread(thread: QsbrThread) {
        drop(thread);
    }
    #[inline]
    fn read_lock(thread: &QsbrThread) -> ReadGuard<'_> {
        thread.read_lock()
    }
    #[inline]
    fn quiescent_state(thread: &mut QsbrThread) {
        thread.quiescent_state();
    }
    #[inline]
    fn offline_scope<R>(thread: &mut QsbrThread, f: impl FnOnce() -> R) -> R {
        thread.offline_scope(f)
    }
}
