//! The loom model's `ForkSafeMutex`: loom's mutex (whose lock and unlock
//! the model schedules and whose deadlocks it reports), with the
//! guard-based interface the grace-period sequence uses. No raw lock: the
//! fork handlers are not built under loom.

/// A mutex protecting a `T` (see `sys/lock.rs`).
pub(crate) struct ForkSafeMutex<T> {
    inner: loom::sync::Mutex<T>,
}

/// Exclusive access to the value of a locked [`ForkSafeMutex`].
pub(crate) type Guard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> ForkSafeMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        ForkSafeMutex { inner: loom::sync::Mutex::new(value) }
    }

    /// Locks; the guard unlocks on drop.
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        // A holder that panics fails the model anyway.
        self.inner.lock().unwrap()
    }
}
