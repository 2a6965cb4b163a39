//! Counting enqueues, and backpressure: past the soft limit producers kick
//! the reclaim thread, past the hard limit a producer that may block waits
//! for it (module docs of `reclaim`, "Backpressure" and "Counting").

use super::state::{in_reclaim_thread, Parts, Reclaimer};
use crate::defer::callback::{CallbackFn, RcuHead};
use crate::defer::slot::DeferSlot;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// Producers compare the backlog with the limits once per this many
/// enqueues (see `enqueue`). A power of two.
const BACKLOG_CHECK_EVERY: u64 = 32;

/// A thread's enqueues not yet added to its reclaimer's shared `queued`
/// counter (see "Counting" in the module docs). One per thread, for the
/// reclaimer it last queued to; switching flavours flushes.
struct QueuedResidual {
    reclaimer: Cell<Option<&'static Reclaimer>>,
    count: Cell<u32>,
}

impl QueuedResidual {
    /// Counts one enqueue to `reclaimer`; returns the shared total when it
    /// flushed.
    #[inline]
    fn count(&self, reclaimer: &'static Reclaimer) -> Option<u64> {
        let n = match self.reclaimer.get() {
            Some(r) if std::ptr::eq(r, reclaimer) => self.count.get() + 1,
            _ => {
                self.flush();
                self.reclaimer.set(Some(reclaimer));
                1
            }
        };
        if n as u64 == BACKLOG_CHECK_EVERY {
            self.count.set(0);
            // Relaxed: see `flush`.
            Some(reclaimer.queued.fetch_add(BACKLOG_CHECK_EVERY, Ordering::Relaxed) + BACKLOG_CHECK_EVERY)
        } else {
            self.count.set(n);
            None
        }
    }

    /// Adds the residual to its reclaimer's counter.
    fn flush(&self) {
        let n = self.count.replace(0);
        if let (Some(r), true) = (self.reclaimer.get(), n > 0) {
            // Relaxed: a statistic and a backlog estimate; the queue itself
            // carries the synchronisation, and `stats()` never reports fewer
            // queued than invoked.
            r.queued.fetch_add(u64::from(n), Ordering::Relaxed);
        }
    }
}

impl Drop for QueuedResidual {
    fn drop(&mut self) {
        self.flush();
    }
}

thread_local! {
    static QUEUED_RESIDUAL: QueuedResidual =
        const { QueuedResidual { reclaimer: Cell::new(None), count: Cell::new(0) } };
}

/// Flushes the calling thread's residual count (before `fork()`, so the
/// child's reconciliation sees it).
pub(super) fn flush_queued_residual() {
    let _ = QUEUED_RESIDUAL.try_with(QueuedResidual::flush);
}

impl Reclaimer {
    /// Queues `head`/`func` on the calling thread's slot (or the shared
    /// queue without one) and counts it. Wait-free unless past the hard
    /// limit and `may_block()` (see the module docs). The caller has
    /// started the thread.
    ///
    /// # Safety
    ///
    /// `slot` is the calling thread's; otherwise as `CallbackQueue::push`.
    #[inline]
    pub(crate) unsafe fn enqueue(
        &'static self,
        parts: Parts<'_>,
        slot: Option<&DeferSlot>,
        head: NonNull<RcuHead>,
        func: CallbackFn,
        may_block: impl Fn() -> bool,
    ) {
        // SAFETY: forwarded contract.
        unsafe { parts.defer.enqueue(slot, head, func) };
        self.count_and_check(parts, may_block);
    }

    /// Counts one enqueue and checks the backlog (see "Counting").
    #[inline]
    pub(super) fn count_and_check(&'static self, parts: Parts<'_>, may_block: impl Fn() -> bool) {
        // The backlog is checked when this thread's count is flushed (once
        // per BACKLOG_CHECK_EVERY of its enqueues): reading `invoked`, which
        // the reclaim thread writes, on every enqueue cost a cache-line
        // transfer each time. Overshoot past a limit is bounded by that many
        // callbacks per producing thread.
        if let Some(queued) = self.count_enqueue() {
            // Relaxed: an estimate; the limits are advisory.
            let backlog = queued.saturating_sub(self.invoked.load(Ordering::Relaxed));
            if backlog > self.limit_soft.load(Ordering::Relaxed) {
                self.over_soft_limit(parts, backlog, &may_block);
            }
        }
    }

    /// Counts one enqueue in the calling thread's residual; every
    /// BACKLOG_CHECK_EVERY enqueues the residual is added to `queued` and
    /// the new total returned (see "Counting" in the module docs).
    #[inline]
    fn count_enqueue(&'static self) -> Option<u64> {
        match QUEUED_RESIDUAL.try_with(|r| r.count(self)) {
            Ok(flushed) => flushed,
            // This thread's thread-locals are being destroyed: count directly.
            // Relaxed: see `QueuedResidual::flush`.
            Err(_) => Some(self.queued.fetch_add(1, Ordering::Relaxed) + 1),
        }
    }

    #[cold]
    #[inline(never)]
    fn over_soft_limit(&self, parts: Parts<'_>, backlog: u64, may_block: &dyn Fn() -> bool) {
        // Relaxed: a statistic.
        self.peak_backlog.fetch_max(backlog, Ordering::Relaxed);
        // Urgent: end a gather window or an idle sleep, but issue no
        // syscall while the thread is already running.
        parts.defer.wake.wake_unless_awake();
        // Relaxed: advisory threshold.
        if backlog > self.limit_hard.load(Ordering::Relaxed) {
            self.throttle_if_allowed(parts, may_block());
        }
    }

    /// Waits until the backlog is back under the soft limit.
    fn throttle(&self, parts: Parts<'_>) {
        loop {
            // SeqCst on `throttled`, `invoked` here and on `invoked`,
            // `throttled` in `invoke_segment` / `wake_throttled`: a
            // store-buffering pair; one side sees the other, so no wake-up
            // is lost. The `progress` value is read first, so a bump after
            // it ends the sleep at once.
            let progress = self.progress.load(Ordering::SeqCst);
            self.throttled.fetch_add(1, Ordering::SeqCst);
            if self.total_backlog(parts) <= self.limit_soft.load(Ordering::Relaxed) {
                // Relaxed: only the count of sleepers, read SeqCst by wakers
                // who at worst wake nobody.
                self.throttled.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            parts.defer.wake.kick();
            crate::sys::futex_wait_u32(&self.progress, progress, None);
            self.throttled.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Callbacks queued and not yet run.
    pub(super) fn backlog(&self, order: Ordering) -> u64 {
        let invoked = self.invoked.load(order);
        // Relaxed: an estimate (see "Counting").
        self.queued.load(Ordering::Relaxed).saturating_sub(invoked)
    }

    /// Everything waiting for reclaim: callbacks and kvfree objects.
    pub(super) fn total_backlog(&self, parts: Parts<'_>) -> u64 {
        // SeqCst: the `invoked` side of the store-buffering pair in `throttle`.
        self.backlog(Ordering::SeqCst) + parts.kvfree.backlog()
    }

    /// Whether memory is under pressure (backlog past the soft limit): then
    /// freed kvfree blocks are not cached.
    pub(crate) fn under_pressure(&self, parts: Parts<'_>) -> bool {
        // Relaxed: advisory threshold.
        self.total_backlog(parts) > self.limit_soft.load(Ordering::Relaxed)
    }

    /// Some kvfree block was sealed (the caller has started the thread):
    /// wake the thread if it sleeps without a timer, or with one while the
    /// backlog is past the soft limit. Returns whether the backlog is past the hard limit,
    /// or the kvfree backlog past its own limit
    /// ([`ReclaimPacing::kvfree_backlog_hard`](super::ReclaimPacing)).
    pub(crate) fn note_sealed(&self, parts: Parts<'_>) -> bool {
        let kvfree_backlog = parts.kvfree.backlog();
        // SeqCst: as in `total_backlog`.
        let backlog = self.backlog(Ordering::SeqCst) + kvfree_backlog;
        // Relaxed: an advisory threshold. Under the soft limit a thread
        // asleep with a timer is left to find the block when it fires (see
        // `wake_for_timer`); past it, any sleep ends now. Either way the
        // SeqCst `sleeping` load follows the inbox push (module docs of
        // `defer/wake.rs`).
        if backlog > self.limit_soft.load(Ordering::Relaxed) {
            parts.defer.wake.wake_if_sleeping();
        } else {
            parts.defer.wake.wake_for_timer();
        }
        // Relaxed: a statistic.
        self.peak_backlog.fetch_max(backlog, Ordering::Relaxed);
        // Relaxed: the thresholds are advisory and pair with nothing (see
        // `set_limits`, `set_pacing`).
        backlog > self.limit_hard.load(Ordering::Relaxed) || kvfree_backlog > self.kvfree_hard.load(Ordering::Relaxed)
    }

    /// Waits for reclaim if past the hard limit and the caller may block
    /// (never the reclaim thread itself).
    pub(crate) fn throttle_if_allowed(&self, parts: Parts<'_>, may_block: bool) {
        if may_block && !in_reclaim_thread() {
            self.throttle(parts);
        }
    }

    /// Wakes producers waiting in `throttle` (after reclaim progress).
    pub(super) fn wake_throttled(&self) {
        // SeqCst: see `throttle`.
        if self.throttled.load(Ordering::SeqCst) > 0 {
            self.progress.fetch_add(1, Ordering::SeqCst);
            crate::sys::futex_wake(&self.progress, i32::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FIRST: Reclaimer = Reclaimer::new();
    static SECOND: Reclaimer = Reclaimer::new();

    fn count_on(r: &'static Reclaimer, n: u64) {
        for _ in 0..n {
            QUEUED_RESIDUAL.with(|res| res.count(r));
        }
    }

    #[test]
    fn residual_counts_flush_per_batch_on_flavour_switch_and_at_thread_exit() {
        std::thread::spawn(|| {
            count_on(&FIRST, 2 * BACKLOG_CHECK_EVERY + 13);
            // Relaxed: same thread.
            assert_eq!(FIRST.queued.load(Ordering::Relaxed), 2 * BACKLOG_CHECK_EVERY, "one flush per batch");
            count_on(&SECOND, 3);
            assert_eq!(FIRST.queued.load(Ordering::Relaxed), 2 * BACKLOG_CHECK_EVERY + 13, "switching flushes");
            assert_eq!(SECOND.queued.load(Ordering::Relaxed), 0);
        })
        .join()
        .unwrap();
        // Relaxed: the join orders the exiting thread's destructor before.
        assert_eq!(SECOND.queued.load(Ordering::Relaxed), 3, "thread exit flushes");
        assert_eq!(FIRST.queued.load(Ordering::Relaxed), 2 * BACKLOG_CHECK_EVERY + 13);
    }
}
