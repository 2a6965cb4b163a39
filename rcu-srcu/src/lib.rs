//! Userspace RCU, sleepable flavour (the Linux kernel's SRCU).
//!
//! Most users depend on the facade crate `rcu`, which re-exports this
//! crate as `rcu::srcu` (feature `srcu`, on by default) and explains which
//! flavour to choose; depend on this crate directly only to keep the other
//! flavours out of the build.
//!
//! A read-side section may sleep, block on a lock or an I/O, and last long;
//! its guard ([`ReadGuard`]) is `Send + Sync + 'static`, so it may be moved
//! to, and dropped on, another thread (an async task that migrates). What it
//! costs: entering writes this thread's own counter for the domain (no
//! atomic read-modify-write, no cache line shared with other readers) and a
//! light barrier; a grace period sums every thread's counters twice per rank
//! (see `rcu_core::srcu` for the protocol and its correctness argument).
//!
//! The default domain shares the engine every flavour has: [`RcuCell`],
//! [`call_rcu`], [`kvfree_rcu`], [`rcu_barrier`], polling and statistics.
//! Independent [`Domain`]s have their own readers and grace periods.
//!
//! ```
//! use rcu_srcu::{read_lock, synchronize_rcu, RcuCell};
//!
//! let config = RcuCell::new(String::from("v1"));
//! let guard = read_lock();
//! let worker = std::thread::spawn(move || {
//!     // The section continues on this thread; it may sleep.
//!     std::thread::sleep(std::time::Duration::from_millis(1));
//!     drop(guard);
//! });
//! worker.join().unwrap();
//! config.replace(String::from("v2"));
//! synchronize_rcu();
//! assert_eq!(config.load(&read_lock()), "v2");
//! ```
//!
//! ## Async servers
//!
//! The flavour for tasks that hold what they read across an `.await` (memb
//! and QSBR guards cannot cross one). Writers in async code never block a
//! worker: [`RcuCell::replace`] and [`kvfree_rcu`] never wait, and
//! [`synchronize_rcu_async`] / [`rcu_barrier_async`] are woken by the
//! engine. A blocking [`synchronize_rcu`] on a thread that opened a section
//! it has not closed panics, naming that fix.
//!
//! ```
//! use std::sync::Arc;
//!
//! let routes = Arc::new(rcu_srcu::RcuCell::new(vec![1u32, 2, 3]));
//! let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
//! runtime.block_on(async {
//!     let (loaded, has_loaded) = tokio::sync::oneshot::channel();
//!     let handler = tokio::spawn({
//!         let routes = routes.clone();
//!         async move {
//!             let guard = rcu_srcu::read_lock();
//!             let table = routes.load(&guard);
//!             loaded.send(()).unwrap();
//!             tokio::task::yield_now().await; // the section crosses the .await
//!             table.len()
//!         }
//!     });
//!     has_loaded.await.unwrap();
//!     routes.replace(vec![4]); // the old table outlives the handler's guard
//!     rcu_srcu::synchronize_rcu_async().await;
//!     assert_eq!(handler.await.unwrap(), 3);
//!     rcu_srcu::rcu_barrier_async().await;
//! });
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod domain;
mod domain_fork;
mod domain_reclaim;

pub use domain::{Domain, DomainGuard};
use rcu_core::{SrcuReaders, SrcuSection};

rcu_core::define_flavour_api!(Srcu, ENGINE, "rcu_srcu", "drop(rcu_srcu::read_lock());");

/// The readers of the default domain, whose sections the engine's grace
/// periods wait for.
static READERS: SrcuReaders = SrcuReaders::new("srcu");

rcu_core::define_flavour!(
    Srcu,
    "srcu",
    rcu_core::Protocol::PhaseFlip,
    "The sleepable flavour, as a type for generic code ([`RcuFlavour`]).",
    srcu = Some(&READERS)
);

/// A read-side critical section of the default domain; dropping it leaves
/// the section, on whichever thread drops it.
///
/// Sections nest. `Send + Sync + 'static`: it borrows nothing of its
/// thread. Forgetting it (`mem::forget`) stalls grace periods for good
/// (a stall warning names the domain), but is never undefined behaviour.
#[must_use = "the read-side critical section ends when the guard is dropped"]
#[derive(Debug)]
pub struct ReadGuard {
    section: SrcuSection,
}

// SAFETY: a ReadGuard exists only between its `read_lock` and its drop
// (the `read_unlock`), on whichever thread; the engine's grace periods wait
// for every such section of the default domain (`READERS`, named by this
// flavour's `srcu_readers()`), so references loaded under it stay valid
// while it lives, on any thread.
unsafe impl rcu_core::ReadSection<Srcu> for ReadGuard {}

/// Enters a read-side critical section of the default domain (nestable).
/// Never blocks; no atomic read-modify-write; a compiler barrier where
/// membarrier is available, else a fence.
///
/// ```
/// let outer = rcu_srcu::read_lock();
/// let inner = rcu_srcu::read_lock();
/// drop(outer); // any order, any thread
/// drop(inner);
/// ```
#[inline]
pub fn read_lock() -> ReadGuard {
    ReadGuard { section: READERS.read_lock() }
}

impl Drop for ReadGuard {
    #[inline]
    fn drop(&mut self) {
        READERS.read_unlock(self.section);
    }
}

/// Waits until every read-side critical section of the default domain that
/// began before the call has ended (and every section of the engine's own).
/// Concurrent callers share grace periods. May block, for as long as the
/// longest such section lasts.
///
/// # Panics
///
/// On a thread that entered a section of the default domain not yet ended,
/// wherever its guard is now:
///
/// ```should_panic
/// let _guard = rcu_srcu::read_lock();
/// rcu_srcu::synchronize_rcu(); // panics: "Drop the guard first"
/// ```
#[track_caller]
pub fn synchronize_rcu() {
    ENGINE.synchronize();
}

/// Whether the calling thread entered a section of the default domain
/// that has not ended (on any thread).
///
/// ```
/// assert!(!rcu_srcu::in_read_section());
/// let g = rcu_srcu::read_lock();
/// assert!(rcu_srcu::in_read_section());
/// drop(g);
/// assert!(!rcu_srcu::in_read_section());
/// ```
pub fn in_read_section() -> bool {
    READERS.open_here() != 0
}

/// A thread's participation as an srcu reader, for code generic over
/// [`rcu_core::RcuFlavour`]: a marker, since any thread may read.
#[derive(Debug)]
pub struct SrcuThread {
    _private: (),
}

impl rcu_core::RcuFlavour for Srcu {
    type Thread = SrcuThread;
    type Guard<'t> = ReadGuard;
    const NEEDS_QUIESCENT_STATES: bool = false;

    fn register_thread() -> SrcuThread {
        SrcuThread { _private: () }
    }
    fn unregister_thread(_thread: SrcuThread) {}
    #[inline]
    fn read_lock(_thread: &SrcuThread) -> ReadGuard {
        read_lock()
    }
}
