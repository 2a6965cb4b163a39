//! Async waiters: the wakers of futures waiting for a cookie, woken by
//! whoever completes a grace period that reaches it.
//!
//! A future ([`GpWait`]) that finds its cookie not reached registers its
//! `Waker` under a key `(cookie, id)`: `id` is unique per future for the
//! life of the process, so a stale waker is never woken for another
//! future's entry, and dropping a future removes exactly its own entry.
//! The list is ordered by cookie, so a completer takes every reached entry
//! off the front in one `split_off` and wakes them outside the lock. One
//! completion wakes every waiter whose cookie it reaches: concurrent
//! awaiters share grace periods.
//!
//! # No lost wake-up
//!
//! A store-buffering pair, with `SeqCst` fences on both sides:
//!
//! * waiter ([`GpSequence::poll_async`](super::sequence::GpSequence)):
//!   inserts its entry and stores `count` (under the lock), fence, loads
//!   `seq`;
//! * completer (`GpSequence::complete`): stores `seq`, fence, loads `count`.
//!
//! In the single total order of `SeqCst` fences one fence comes first: if
//! the waiter's, the completer's load of `count` sees the waiter's store
//! (or a later one, each made under the lock with the entry still in the
//! list unless it was woken or dropped), so it takes the lock and finds the
//! entry; if the completer's, the waiter's load of `seq` sees the
//! completion and the future returns `Ready` itself. A completer that
//! reads a nonzero `count` written inside a waiter's critical section
//! takes the lock after that section (coherence: it cannot read a store
//! that happens after its own read), so it finds the entry. With no async
//! waiter a completion costs the fence and one load.

use super::sequence::{GpSequence, GpState};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sys::lock::ForkSafeMutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

struct List {
    /// The next future's id (never reused).
    next_id: u64,
    /// Registered wakers, ordered by cookie.
    wakers: BTreeMap<(GpState, u64), Waker>,
}

/// The async waiters of one sequence.
pub(crate) struct GpWaiters {
    /// `list.wakers.len()`, stored under the lock after every change, read
    /// without it by completers (see the module docs).
    count: AtomicU64,
    list: ForkSafeMutex<List>,
}

impl GpWaiters {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        GpWaiters { count: AtomicU64::new(0), list: ForkSafeMutex::new(List { next_id: 0, wakers: BTreeMap::new() }) }
    }

    /// As the `const` one (loom's atomics are not `const`).
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        GpWaiters { count: AtomicU64::new(0), list: ForkSafeMutex::new(List { next_id: 0, wakers: BTreeMap::new() }) }
    }

    /// Registers (or refreshes) the waker of the future `*id` (assigned on
    /// its first registration) for `cookie`.
    pub(super) fn register(&self, cookie: GpState, id: &mut Option<u64>, waker: &Waker) {
        let mut l = self.list.lock();
        let key = match *id {
            Some(i) => (cookie, i),
            None => {
                let i = l.next_id;
                l.next_id += 1;
                *id = Some(i);
                (cookie, i)
            }
        };
        match l.wakers.entry(key) {
            std::collections::btree_map::Entry::Occupied(mut e) => {
                if !e.get().will_wake(waker) {
                    e.insert(waker.clone());
                }
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(waker.clone());
            }
        }
        // Relaxed: the waiter's store of the store-buffering pair; the
        // `SeqCst` fence in `poll_async` after it orders it before the load
        // of `seq` (see the module docs).
        self.count.store(l.wakers.len() as u64, Ordering::Relaxed);
    }

    /// Removes the entry of the future `*id`, if it has one.
    pub(super) fn remove(&self, cookie: GpState, id: &mut Option<u64>) {
        let Some(i) = id.take() else { return };
        let mut l = self.list.lock();
        if l.wakers.remove(&(cookie, i)).is_some() {
            // Relaxed: under the lock; a completer that reads a stale
            // larger value only takes the lock for nothing.
            self.count.store(l.wakers.len() as u64, Ordering::Relaxed);
        }
    }

    /// Whether any future is registered: the completer's load of the
    /// store-buffering pair (the caller has issued the `SeqCst` fence).
    #[inline]
    pub(super) fn any(&self) -> bool {
        // Relaxed: ordered after the completion's store of `seq` by the
        // caller's `SeqCst` fence; pairs with the fence in `poll_async`.
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Wakes (and removes) every future whose cookie `seq` reaches.
    #[cold]
    pub(super) fn wake_reached(&self, seq: u64) {
        let reached = {
            let mut l = self.list.lock();
            let later = l.wakers.split_off(&(GpState::from_seq(seq + 1), 0));
            let reached = std::mem::replace(&mut l.wakers, later);
            // Relaxed: under the lock (see `remove`).
            self.count.store(l.wakers.len() as u64, Ordering::Relaxed);
            reached
        };
        // Outside the lock: a waker may run arbitrary code, even poll.
        for (_, waker) in reached {
            waker.wake();
        }
    }

    /// Futures registered now.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.list.lock().wakers.len()
    }

    /// `fork()` support: hold the lock across the fork.
    #[cfg(not(loom))]
    pub(super) fn lock_for_fork(&self) {
        self.list.raw_lock();
    }

    /// `fork()` support, both sides: release the lock taken by
    /// [`Self::lock_for_fork`]. Entries stay (their futures may live in
    /// the child, on the forking thread).
    #[cfg(not(loom))]
    pub(super) fn unlock_after_fork(&self) {
        // SAFETY: taken by `lock_for_fork` on this thread, no guard exists.
        unsafe { self.list.raw_unlock() };
    }
}

/// A future that completes once `cookie` is reached (the engine asked for
/// the grace period when it made the cookie). Never blocks; dropping it
/// removes its waker.
pub(crate) struct GpWait {
    sequence: &'static GpSequence,
    cookie: GpState,
    /// This future's id in the waiter list, once registered.
    id: Option<u64>,
}

impl GpWait {
    pub(crate) fn new(sequence: &'static GpSequence, cookie: GpState) -> Self {
        GpWait { sequence, cookie, id: None }
    }
}

impl Future for GpWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field is `Unpin`.
        let this = self.get_mut();
        if this.sequence.poll_async(this.cookie, &mut this.id, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for GpWait {
    fn drop(&mut self) {
        self.sequence.forget_waiter(self.cookie, &mut self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    struct Unpark {
        thread: std::thread::Thread,
        woken: AtomicBool,
    }

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            // Release pairs with the Acquire swap of the waiting thread.
            self.woken.store(true, Ordering::Release);
            self.thread.unpark();
        }
    }

    /// Waiters race a thread completing grace periods back to back: every
    /// pending waiter is woken (a lost wake-up fails the test after a
    /// timeout instead of hanging it), and the list ends empty.
    #[test]
    fn no_wake_up_is_lost_against_back_to_back_completions() {
        let seq: &'static GpSequence = Box::leak(Box::new(GpSequence::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let completer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // Relaxed: a stop flag, ordered by the join.
                while !stop.load(Ordering::Relaxed) {
                    seq.wait_for(seq.snapshot(), || {});
                }
            })
        };
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(move || {
                    let unpark = Arc::new(Unpark { thread: std::thread::current(), woken: AtomicBool::new(false) });
                    let waker = Waker::from(unpark.clone());
                    for _ in 0..2000 {
                        let cookie = seq.snapshot();
                        let mut id = None;
                        // Acquire pairs with the Release store in `wake`.
                        unpark.woken.swap(false, Ordering::Acquire);
                        while !seq.poll_async(cookie, &mut id, &waker) {
                            let deadline = std::time::Instant::now() + Duration::from_secs(10);
                            while !unpark.woken.swap(false, Ordering::Acquire) {
                                assert!(std::time::Instant::now() < deadline, "a registered waiter was never woken");
                                std::thread::park_timeout(Duration::from_millis(100));
                            }
                        }
                        assert!(id.is_none(), "a completed waiter kept its id");
                    }
                })
            })
            .collect();
        for w in waiters {
            w.join().unwrap();
        }
        // Relaxed: ordered by the join.
        stop.store(true, Ordering::Relaxed);
        completer.join().unwrap();
        assert_eq!(seq.async_waiters(), 0);
    }

    /// Ids are never reused: an entry removed and a new future registered
    /// for the same cookie get different keys, so a dropped future's
    /// removal cannot take another's entry.
    #[test]
    fn a_dropped_waiter_removes_only_its_own_entry() {
        let seq = GpSequence::new(0);
        let cookie = seq.snapshot();
        let waker = Waker::from(Arc::new(Unpark { thread: std::thread::current(), woken: AtomicBool::new(false) }));
        let (mut a, mut b) = (None, None);
        assert!(!seq.poll_async(cookie, &mut a, &waker));
        assert!(!seq.poll_async(cookie, &mut b, &waker));
        assert_ne!(a, b);
        assert_eq!(seq.async_waiters(), 2);
        seq.forget_waiter(cookie, &mut a);
        assert_eq!(seq.async_waiters(), 1);
        seq.forget_waiter(cookie, &mut a);
        assert_eq!(seq.async_waiters(), 1, "a second removal took another waiter's entry");
        seq.wait_for(cookie, || {});
        assert_eq!(seq.async_waiters(), 0, "the completion did not take the reached entry");
        assert!(seq.poll_async(cookie, &mut b, &waker));
    }
}
