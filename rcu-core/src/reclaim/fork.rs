//! `fork()`: the reclaimer's locks are held across it, and the child,
//! where the reclaim thread does not exist, repairs what it inherited.

use super::backlog::flush_queued_residual;
use super::barrier::is_stack_marker;
use super::state::{Parts, Reclaimer};
use crate::defer::callback::RcuHead;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

impl Reclaimer {
    /// Takes the locks a forked child would otherwise inherit held.
    pub(crate) fn lock_for_fork(&self) {
        flush_queued_residual();
        self.start_lock.raw_lock();
        self.pending.raw_lock();
    }

    /// Releases the locks taken by [`Self::lock_for_fork`] (parent side).
    pub(crate) fn unlock_after_fork_parent(&self) {
        // SAFETY: both taken by `lock_for_fork` on this thread; no guards.
        unsafe {
            self.pending.raw_unlock();
            self.start_lock.raw_unlock();
        }
    }

    /// Child side: pending callbacks stay queued and run once the thread is
    /// restarted by the next `call_rcu`, `rcu_barrier` or polled grace
    /// period in the child. Lists broken by a producer caught mid-enqueue
    /// are cut, rcu_barrier markers of threads that do not exist here are
    /// unlinked (their stacks are gone; `rcu_barrier_async` markers, on the
    /// heap, stay and run), and the counters are recomputed
    /// from what is actually left. Returns the (blocks, objects) of kvfree
    /// blocks still pending here.
    pub(crate) fn reset_after_fork_child(&self, parts: Parts<'_>) -> (u64, u64) {
        let marker = |h: NonNull<RcuHead>| {
            // SAFETY: single-threaded child; every queued head has a function.
            is_stack_marker(unsafe { h.as_ref().func() })
        };
        let mut left = parts.defer.queue.repair_after_fork_child(marker) as u64;
        // Threads' own lists join the repaired queue (after the repair: a
        // list pushed behind a break would be cut off with it).
        left += parts.defer.flush_callback_lists_after_fork() as u64;
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        let pending = unsafe { &mut *self.pending.value_ptr() };
        let (heads, blocks) = pending.repair_after_fork_child(|seg| seg.repair_after_fork_child(marker));
        left += heads;
        // Relaxed: the child is single-threaded here.
        // Residuals of threads that do not exist here are lost with them:
        // `queued` may be short of what has run plus what `left` holds, so
        // raise it (never lower `invoked`: the child's counts must not go
        // backwards from the parent's).
        let invoked = self.invoked.load(Ordering::Relaxed);
        let queued = self.queued.load(Ordering::Relaxed).max(invoked + left);
        self.queued.store(queued, Ordering::Relaxed);
        self.invoked.store(queued - left, Ordering::Relaxed);
        self.barriers_waiting.store(0, Ordering::Relaxed);
        self.started.store(false, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        unsafe {
            self.pending.raw_unlock();
            self.start_lock.raw_unlock();
        }
        blocks
    }
}
