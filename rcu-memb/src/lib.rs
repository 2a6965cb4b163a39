//! Userspace RCU, membarrier flavour (liburcu's `urcu-memb`).
//!
//! Most users depend on the facade crate `rcu`, which re-exports this
//! crate as `rcu::memb` (feature `memb`, on by default) and explains
//! which flavour to choose; depend on this crate directly only to keep
//! the other flavours out of the build.
//!
//! ## This flavour
//!
//! Any thread can read: [`read_lock`] registers it on first use. A read-side
//! critical section costs two plain stores and no fence: the writer's
//! grace period issues `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! instead (see `rcu_core::sys`). Writers publish a new version, then wait
//! for a grace period ([`synchronize_rcu`]) before freeing the old one.
//!
//! ```
//! use rcu_memb::{read_lock, synchronize_rcu, RcuCell};
//!
//! let config = RcuCell::new(String::from("v1"));
//! {
//!     let guard = read_lock();
//!     assert_eq!(config.load(&guard), "v1");
//! }
//! config.replace(String::from("v2")); // old value dropped after a grace period
//! synchronize_rcu();
//! assert_eq!(config.load(&read_lock()), "v2");
//! ```
//!
//! ## A server in brief
//!
//! One thread reloads the configuration; request handlers read it, one
//! read-side section per request:
//!
//! ```
//! use rcu_memb::{read_lock, RcuCell};
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//!
//! struct Config {
//!     max_body: usize,
//!     banner: String,
//! }
//!
//! let config = RcuCell::new(Config { max_body: 1 << 20, banner: "v0".into() });
//! let stop = AtomicBool::new(false);
//! let served: u64 = std::thread::scope(|s| {
//!     s.spawn(|| {
//!         for v in 1..=20 {
//!             // Publish; the old value is freed after a grace period
//!             // (kvfree_rcu), so the reloader never waits for readers.
//!             config.replace(Config { max_body: 1 << 20, banner: format!("v{v}") });
//!             std::thread::sleep(Duration::from_millis(1));
//!         }
//!         stop.store(true, Ordering::Release);
//!     });
//!     let handlers: Vec<_> = (0..4)
//!         .map(|_| {
//!             s.spawn(|| {
//!                 let mut served = 0;
//!                 while !stop.load(Ordering::Acquire) {
//!                     let guard = read_lock(); // registers on first use
//!                     let c = config.load(&guard);
//!                     assert!(c.banner.starts_with('v') && c.max_body > 0);
//!                     served += 1;
//!                 } // each guard drops with its request
//!                 served
//!             })
//!         })
//!         .collect();
//!     handlers.into_iter().map(|h| h.join().unwrap()).sum()
//! });
//! assert!(served > 0);
//! assert_eq!(config.load(&read_lock()).banner, "v20");
//! rcu_memb::rcu_barrier(); // every replaced Config has been freed
//! ```
//!
//! What arc-swap users expect: an update closure (compare-and-swap, retried),
//! `compare_exchange`, `swap` handing the old value back as a [`Retired`]
//! (readable, never dropped before a grace period), and an optional cell:
//!
//! ```
//! use rcu_memb::{read_lock, RcuCell, RcuOption};
//!
//! let counter = RcuCell::new(0u64);
//! let guard = read_lock();
//! let old = counter.update(&guard, |n| n + 1); // never blocks: fine in a section
//! assert_eq!((*old, *counter.load(&guard)), (0, 1));
//! let current = counter.load(&guard);
//! assert!(counter.compare_exchange(current, 10).is_ok());
//! assert_eq!(counter.compare_exchange(current, 11), Err(11)); // `current` is stale
//! drop(guard);
//! let retired = counter.swap(20);
//! assert_eq!(*retired, 10);
//! assert_eq!(*retired.into_inner_after_grace_period(), 10); // waits for readers
//!
//! let session: RcuOption<String> = RcuOption::default();
//! session.store(Some("token".into()));
//! assert_eq!(session.load(&read_lock()).map(String::as_str), Some("token"));
//! drop(session.take()); // retired: dropped after a grace period
//! assert!(session.load(&read_lock()).is_none());
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use rcu_core::{ReaderSlot, ReaderSlotPtr};
use std::marker::PhantomData;

rcu_core::define_flavour_api!(Memb, ENGINE, "rcu_memb", "drop(rcu_memb::read_lock());");

rcu_core::define_flavour!(
    Memb,
    "memb",
    rcu_core::Protocol::PhaseFlip,
    "The membarrier flavour, as a type for generic code ([`RcuFlavour`])."
);

/// A read-side critical section; dropping it leaves the section.
///
/// Sections nest. The guard is `!Send`: it must be dropped by the thread
/// that created it. Forgetting it (`mem::forget`) stalls grace periods until
/// the thread exits, but is never undefined behaviour.
#[must_use = "the read-side critical section ends when the guard is dropped"]
pub struct ReadGuard {
    slot: &'static ReaderSlot,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a ReadGuard exists only between a read_lock and its unlock on the
// creating thread (it is !Send), which is a memb read-side section.
unsafe impl rcu_core::ReadSection<Memb> for ReadGuard {}

impl std::fmt::Debug for ReadGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadGuard").finish_non_exhaustive()
    }
}

/// Enters a read-side critical section (nestable). Registers the thread on
/// first use. Never blocks; no atomic read-modify-write, no fence (with
/// membarrier available).
///
/// ```
/// let outer = rcu_memb::read_lock();
/// let inner = rcu_memb::read_lock(); // nesting is fine
/// drop(inner);
/// drop(outer);
/// ```
#[inline]
pub fn read_lock() -> ReadGuard {
    let slot = SLOT.with(ReaderSlotPtr::current);
    // SAFETY: this thread owns `slot` (or it is the vacant stand-in, which
    // `memb_enter` never writes); the counter is this flavour's.
    if unsafe { slot.memb_enter(ENGINE.counter().ctr()) } {
        ReadGuard { slot, _not_send: PhantomData }
    } else {
        read_lock_saturated()
    }
}

/// `read_lock` on a saturated word: the thread has no slot yet (register
/// it), or sections are nested 2^32 - 1 deep.
#[cold]
#[inline(never)]
fn read_lock_saturated() -> ReadGuard {
    assert!(
        SLOT.with(ReaderSlotPtr::get).is_none(),
        "rcu_memb::read_lock: read-side sections nested 4294967295 deep (a guard leaked in a loop?); \
         drop guards when their section ends"
    );
    let slot = ENGINE.register_current();
    // SAFETY: `slot` is this thread's own fresh slot (nesting 0).
    let entered = unsafe { slot.memb_enter(ENGINE.counter().ctr()) };
    debug_assert!(entered, "a fresh slot is not saturated");
    ReadGuard { slot, _not_send: PhantomData }
}

impl Drop for ReadGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard is !Send, so this is the owner thread, and it
        // matches the `memb_enter` of its `read_lock`.
        if unsafe { self.slot.memb_exit() } {
            // SAFETY: the outermost section just ended and no other guard
            // exists (it was the outermost); the slot was kept past the
            // thread's destructors only for this guard.
            unsafe { release_transient_slot() };
        }
    }
}

/// Out of line: only a thread whose destructors already ran gets here.
///
/// # Safety
///
/// As `Engine::release_current_slot`.
#[cold]
#[inline(never)]
unsafe fn release_transient_slot() {
    // SAFETY: forwarded contract.
    unsafe { ENGINE.release_current_slot() };
}

/// Registers the calling thread now, so that the first [`read_lock`] does
/// not pay for it. Idempotent. Registration never waits for a grace period.
pub fn register_thread() {
    ENGINE.register_current();
}

/// Unregisters the calling thread (threads are also unregistered when they
/// exit). A later [`read_lock`] registers it again.
///
/// # Panics
///
/// Inside a read-side critical section of this thread.
pub fn unregister_thread() {
    ENGINE.unregister_current();
}

/// Waits until every read-side critical section that began before the call
/// has ended. Concurrent callers share grace periods. May block.
///
/// # Panics
///
/// Inside a read-side critical section of the calling thread (it would wait
/// for itself forever):
///
/// ```should_panic
/// let _guard = rcu_memb::read_lock();
/// rcu_memb::synchronize_rcu(); // panics: "called inside a read-side critical section"
/// ```
#[track_caller]
pub fn synchronize_rcu() {
    ENGINE.synchronize();
}

/// Whether the calling thread is inside a read-side critical section.
///
/// ```
/// assert!(!rcu_memb::in_read_section());
/// let _g = rcu_memb::read_lock();
/// assert!(rcu_memb::in_read_section());
/// ```
pub fn in_read_section() -> bool {
    !ENGINE.may_block()
}

/// A thread's registration as a memb reader, for code generic over
/// [`rcu_core::RcuFlavour`]: `<Memb as RcuFlavour>::register_thread()`
/// returns one. A marker: memb readers need no handle ([`read_lock`] works
/// on any thread), and dropping it leaves the thread registered until it
/// exits; `<Memb as RcuFlavour>::unregister_thread(handle)` unregisters.
#[derive(Debug)]
pub struct MembThread {
    _not_send: PhantomData<*const ()>,
}

impl rcu_core::RcuFlavour for Memb {
    type Thread = MembThread;
    type Guard<'t> = ReadGuard;
    const NEEDS_QUIESCENT_STATES: bool = false;

    fn register_thread() -> MembThread {
        register_thread();
        MembThread { _not_send: PhantomData }
    }
    fn unregister_thread(_thread: MembThread) {
        unregister_thread();
    }
    #[inline]
    fn read_lock(_thread: &MembThread) -> ReadGuard {
        read_lock()
    }
}
