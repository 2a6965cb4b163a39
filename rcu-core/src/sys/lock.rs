//! A small futex mutex the engine can unlock by hand, for `fork()`.
//!
//! `std::sync::Mutex` cannot be released without its guard, but the
//! `pthread_atfork` handlers must take the engine's locks before `fork()`
//! and release them in both parent and child (in the child, a lock held by a
//! thread that no longer exists would never be released). This is the
//! classic three-state futex mutex (Drepper, "Futexes Are Tricky", mutex 2):
//! 0 unlocked, 1 locked, 2 locked with possible waiters.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A mutex protecting a `T`, with explicit `raw_lock`/`raw_unlock` for the
/// fork handlers.
pub(crate) struct ForkSafeMutex<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, which the lock makes
// exclusive; `T: Send` lets the value be used from whichever thread locks.
unsafe impl<T: Send> Sync for ForkSafeMutex<T> {}
// SAFETY: moving the mutex moves the value (`T: Send`).
unsafe impl<T: Send> Send for ForkSafeMutex<T> {}

impl<T> ForkSafeMutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        ForkSafeMutex { state: AtomicU32::new(UNLOCKED), value: UnsafeCell::new(value) }
    }

    /// Locks; the guard unlocks on drop.
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.raw_lock();
        Guard { mutex: self }
    }

    /// Locks without a guard (fork handlers). Pair with [`Self::raw_unlock`].
    pub(crate) fn raw_lock(&self) {
        // Acquire on success pairs with the Release in `raw_unlock`: the
        // previous holder's writes to the value are visible.
        if self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        self.lock_contended();
    }

    #[cold]
    fn lock_contended(&self) {
        // Acquire: as in `raw_lock`.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            super::futex::futex_wait_u32(&self.state, CONTENDED, None);
        }
    }

    /// The protected value, for the holder of a raw lock (fork handlers).
    pub(crate) fn value_ptr(&self) -> *mut T {
        self.value.get()
    }

    /// Unlocks a lock taken by [`Self::raw_lock`] or forgotten guard.
    ///
    /// # Safety
    ///
    /// The lock must be held, by this thread or (in a forked child) by the
    /// thread that forked, and no guard for this lock may be used after.
    pub(crate) unsafe fn raw_unlock(&self) {
        // Release pairs with the Acquire in `raw_lock`.
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            super::futex::futex_wake(&self.state, 1);
        }
    }
}

/// Exclusive access to the value of a locked [`ForkSafeMutex`].
pub(crate) struct Guard<'a, T> {
    mutex: &'a ForkSafeMutex<T>,
}

impl<T> std::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference exists.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> std::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, so no other reference exists.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock and is going away.
        unsafe { self.mutex.raw_unlock() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn contended_increments_are_not_lost() {
        let m = Arc::new(ForkSafeMutex::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 80_000);
    }

    #[test]
    fn raw_lock_and_unlock_pair() {
        let m = ForkSafeMutex::new(1);
        m.raw_lock();
        // SAFETY: locked just above by this thread.
        unsafe { m.raw_unlock() };
        assert_eq!(*m.lock(), 1);
    }
}
