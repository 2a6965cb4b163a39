//! The reclaim thread: takes what was handed over, waits for grace periods
//! (at most one started per gather window unless something is urgent),
//! frees blocks and runs callbacks, and sleeps on the doorbell when idle.

use super::barrier::is_marker;
use super::state::{Parts, Reclaimer, IN_RECLAIM_THREAD};
use crate::defer::block::SealedBlock;
use crate::defer::callback;
use crate::defer::deferrals::{CallbackLists, Steal};
use crate::defer::local_callbacks::STALE_AFTER;
use crate::defer::queue::Segment;
use crate::defer::slot::SlotBlock;
use crate::defer::wake::{AWAKE, GATHERING, SLEEPING_TIMED, SLEEPING_UNTIMED};
use crate::gp::sequence::GpState;
use crate::kvfree::TakeBack;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long after its last kvfree work the thread keeps a timer while it
/// sleeps (see `idle_timeout`).
const KVFREE_LINGER: Duration = Duration::from_secs(1);

/// What the reclaim thread does next.
enum Step {
    FreeBlocks(NonNull<SlotBlock>),
    Invoke(Segment),
    DrainPartialBlocks,
    /// Nothing is pending but some thread's own callback list has heads.
    StealCallbacks,
    Wait(GpState),
    Idle,
}

impl Reclaimer {
    /// The thread's body: `wait_for(cookie)` waits for a grace period
    /// (leading one if needed). Never returns.
    pub(crate) fn run(&self, parts: Parts<'_>, wait_for: &dyn Fn(GpState)) {
        IN_RECLAIM_THREAD.with(|c| c.set(true));
        // Callback and destructor panics are caught where they run; any
        // other panic here is an internal error. Dying silently would strand
        // every later callback and hang rcu_barrier, so abort loudly.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop(parts, wait_for)));
        if result.is_err() {
            eprintln!("rcu_{}: internal error: the reclaim thread panicked; aborting", parts.flavour);
            std::process::abort();
        }
    }

    fn run_loop(&self, parts: Parts<'_>, wait_for: &dyn Fn(GpState)) -> ! {
        let under_pressure = || self.under_pressure(parts);
        loop {
            match self.next_step(parts) {
                Step::FreeBlocks(first) => self.free_blocks(parts, first),
                Step::Invoke(seg) => self.invoke_segment(parts, seg),
                Step::DrainPartialBlocks => {
                    // Relaxed: this thread's own field.
                    self.last_kvfree_work.store(crate::sys::monotonic_ns(), Ordering::Relaxed);
                    let older_than = parts.kvfree.drain_interval().as_nanos() as u64;
                    let what = Steal::DrainTimer { older_than };
                    parts.kvfree.steal(parts.defer, parts.sequence, what, under_pressure);
                    // Ready blocks their owners left alone as long (idle or
                    // exited owners) are freed here.
                    let which = TakeBack::Stale { older_than };
                    parts.kvfree.take_back(parts.defer, parts.sequence, parts.flavour, which, &under_pressure);
                }
                Step::StealCallbacks => {
                    parts.kvfree.steal(parts.defer, parts.sequence, Steal::Callbacks, under_pressure);
                }
                Step::Wait(cookie) => self.wait_for_grace_period(parts, cookie, wait_for),
                Step::Idle => self.idle(parts),
            }
        }
    }

    /// Waits for `cookie`, starting at most one grace period per
    /// gather window unless something is urgent (see
    /// [`ReclaimPacing`](super::ReclaimPacing)).
    fn wait_for_grace_period(&self, parts: Parts<'_>, cookie: GpState, wait_for: &dyn Fn(GpState)) {
        let now = crate::sys::monotonic_ns();
        // Relaxed: reclaim-thread-only field.
        let since = now.saturating_sub(self.last_gp_start.load(Ordering::Relaxed));
        // Relaxed: a setting that pairs with nothing (see `set_pacing`).
        let window = self.gather_window_ns.load(Ordering::Relaxed);
        if since < window && !self.is_urgent(parts) && !parts.sequence.poll(cookie) {
            self.gather(Duration::from_nanos(window - since), parts);
            return; // take what arrived, then decide again
        }
        self.last_gp_start.store(now, Ordering::Relaxed);
        wait_for(cookie);
    }

    fn is_urgent(&self, parts: Parts<'_>) -> bool {
        // SeqCst: pairs with the increments in `barrier`/`request_gp`,
        // which kick this thread after them.
        self.barriers_waiting.load(Ordering::SeqCst) > 0
            || !parts.sequence.poll(GpState::from_seq(self.requested.load(Ordering::SeqCst)))
            || self.total_backlog(parts) > self.limit_soft.load(Ordering::Relaxed)
    }

    /// Sleeps out the rest of the gather window; an urgent kick ends it.
    fn gather(&self, rest: Duration, parts: Parts<'_>) {
        let wake = &parts.defer.wake;
        // The event is read before the state is announced and the urgency
        // re-checked, so a kick after this point ends the sleep.
        let event = wake.event();
        wake.announce(GATHERING);
        if !self.is_urgent(parts) {
            wake.sleep(event, Some(rest));
        }
        wake.announce(AWAKE);
    }

    fn next_step(&self, parts: Parts<'_>) -> Step {
        let mut pending = self.pending.lock();
        // The queue before the inbox: an rcu_barrier marker seen here was
        // queued after its caller sealed the partial blocks, so the inbox
        // take below sees those blocks.
        if let Some(seg) = parts.defer.queue.take_all() {
            // The cookie is taken after the take: every head in `seg` was
            // enqueued (and its object unpublished) before this point.
            pending.push(parts.sequence.snapshot(), seg);
        }
        let mut inbox = parts.kvfree.take_inbox();
        if !inbox.is_null() {
            // Relaxed: this thread's own field.
            self.last_kvfree_work.store(crate::sys::monotonic_ns(), Ordering::Relaxed);
        }
        while let Some(b) = NonNull::new(inbox) {
            // SAFETY: blocks in the inbox are sealed and now owned by us.
            inbox = unsafe { b.as_ref().next() };
            // SAFETY: produced by `SealedBlock::into_raw` in `push_inbox`.
            pending.insert_block(unsafe { SealedBlock::from_raw(b) });
        }
        // Relaxed: a statistic.
        self.peak_backlog.fetch_max(self.total_backlog(parts), Ordering::Relaxed);
        // Ready blocks before ready callbacks (see `barrier`).
        if let Some(first) = NonNull::new(pending.pop_ready_blocks(|c| parts.sequence.poll(c))) {
            return Step::FreeBlocks(first);
        }
        if let Some(seg) = pending.pop_ready(|c| parts.sequence.poll(c)) {
            return Step::Invoke(seg);
        }
        drop(pending);
        if self.drain_due(parts) {
            return Step::DrainPartialBlocks;
        }
        let pending = self.pending.lock();
        let oldest = match (pending.oldest_cookie(), pending.oldest_block_cookie()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        drop(pending);
        match oldest {
            Some(cookie) => self.step_while_pending(parts, cookie),
            None => self.step_while_nothing_pending(parts),
        }
    }

    /// While batches are pending, the lists get a look at most every
    /// STALE_AFTER: otherwise a thread that keeps handing over full lists
    /// would keep a quiet thread's partial list waiting.
    fn step_while_pending(&self, parts: Parts<'_>, oldest: GpState) -> Step {
        if self.list_look_due() && parts.defer.look_at_callback_lists() == CallbackLists::Quiet {
            return Step::StealCallbacks;
        }
        Step::Wait(oldest)
    }

    /// Nothing pending: a look now; only lists unchanged since the previous
    /// look are stolen (busy producers hand their lists over themselves, and
    /// a steal costs a heavy barrier). `idle` comes back to a busy list
    /// after STALE_AFTER.
    fn step_while_nothing_pending(&self, parts: Parts<'_>) -> Step {
        if parts.defer.look_at_callback_lists() == CallbackLists::Quiet {
            return Step::StealCallbacks;
        }
        // Relaxed: re-read under SeqCst in `idle` before sleeping.
        let wanted = GpState::from_seq(self.requested.load(Ordering::Relaxed));
        if !parts.sequence.poll(wanted) {
            return Step::Wait(wanted);
        }
        Step::Idle
    }

    /// Whether STALE_AFTER has passed since the last look at the callback
    /// lists while batches were pending (and if so, notes the look).
    fn list_look_due(&self) -> bool {
        let now = crate::sys::monotonic_ns();
        // Relaxed: reclaim-thread-only field.
        let due = now.saturating_sub(self.last_list_look.load(Ordering::Relaxed)) >= STALE_AFTER.as_nanos() as u64;
        if due {
            // Relaxed: as above.
            self.last_list_look.store(now, Ordering::Relaxed);
        }
        due
    }

    /// Whether some partial kvfree block, or some ready block handed back
    /// to its owner, has waited the drain interval.
    fn drain_due(&self, parts: Parts<'_>) -> bool {
        let interval = parts.kvfree.drain_interval().as_nanos() as u64;
        earliest_drain(parts).is_some_and(|t| crate::sys::monotonic_ns().saturating_sub(t) >= interval)
    }

    /// Frees the ready blocks from `first` on, or hands them back to their
    /// owners (`kvfree/hand_back.rs`).
    fn free_blocks(&self, parts: Parts<'_>, first: NonNull<SlotBlock>) {
        let under_pressure = || self.under_pressure(parts);
        let mut next = first.as_ptr();
        while let Some(b) = NonNull::new(next) {
            // SAFETY: detached from the pending list by `pop_ready_blocks`,
            // so owned here; read the link before the block is recycled.
            next = unsafe { b.as_ref().next() };
            // SAFETY: every block in the list is sealed.
            let sealed = unsafe { SealedBlock::from_raw(b) };
            parts.kvfree.free_or_hand_back(sealed, parts.sequence, parts.flavour, &under_pressure);
        }
        self.wake_throttled();
    }

    fn invoke_segment(&self, parts: Parts<'_>, seg: Segment) {
        let flavour = parts.flavour;
        // Counted in `invoked` per run of callbacks rather than per callback
        // (producers read `invoked`); flushed before each barrier marker so
        // a returning rcu_barrier sees its callbacks counted.
        let mut uncounted = 0u64;
        let mut hand_backs_done = false;
        let n = seg.for_each(|h| {
            // SAFETY: every head in a ready segment was dequeued by this
            // thread; reading its function is the consumer's right.
            if is_marker(unsafe { h.as_ref().func() }) {
                // Every block sealed before the barrier was freed or handed
                // back before this segment ran (`next_step`); what was
                // handed back is dropped before the marker wakes its caller.
                if !std::mem::replace(&mut hand_backs_done, true) {
                    let under_pressure = || self.under_pressure(parts);
                    parts.kvfree.wait_for_hand_backs(parts.defer, parts.sequence, flavour, &under_pressure);
                }
                // The marker counts itself before it wakes its caller.
                // SeqCst: see `throttle`.
                self.invoked.fetch_add(std::mem::take(&mut uncounted) + 1, Ordering::SeqCst);
            } else {
                uncounted += 1;
            }
            // SAFETY: the grace period of every head in a ready segment has
            // completed.
            if unsafe { callback::invoke(h, flavour) } {
                // Relaxed: a statistic.
                self.panics.fetch_add(1, Ordering::Relaxed);
            }
        }) as u64;
        // SeqCst: see `throttle`.
        self.invoked.fetch_add(uncounted, Ordering::SeqCst);
        // Relaxed: statistics.
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.largest_batch.fetch_max(n, Ordering::Relaxed);
        self.wake_throttled();
    }

    /// Sleeps until new work arrives, or until the drain timer fires when
    /// some thread has a partial kvfree block.
    fn idle(&self, parts: Parts<'_>) {
        let wake = &parts.defer.wake;
        // The event is read before announcing the sleep, then the work
        // sources are re-checked (SeqCst): the reclaim thread's half of the
        // store-buffering pairs in `defer/wake.rs`.
        let event = wake.event();
        wake.announce(SLEEPING_UNTIMED);
        let wanted = GpState::from_seq(self.requested.load(Ordering::SeqCst));
        let has_work = !parts.defer.queue.is_empty() || !parts.sequence.poll(wanted) || parts.kvfree.has_inbox();
        if !has_work {
            let timeout = self.idle_timeout(parts);
            if timeout.is_some() {
                wake.announce(SLEEPING_TIMED);
            }
            wake.sleep(event, timeout);
        }
        wake.announce(AWAKE);
    }

    /// How long `idle` may sleep: until the earliest partial block's drain
    /// is due, or STALE_AFTER while a callback list has heads; for
    /// KVFREE_LINGER after kvfree work, half a drain interval at a time;
    /// forever otherwise.
    ///
    /// The linger: asleep without a timer, the thread must be woken by the
    /// first object of a producer's next block (`wake_for_timer`), and on
    /// two cores the woken thread often preempted the producer at once (a
    /// config reload every 10 ms then took about 1 ms at p99, its own work
    /// tens of microseconds; BENCHMARKS.md, the async server's replace
    /// tail). Asleep with a timer, it finds the block itself, at most half
    /// an interval late.
    fn idle_timeout(&self, parts: Parts<'_>) -> Option<Duration> {
        let interval = parts.kvfree.drain_interval().as_nanos() as u64;
        let now = crate::sys::monotonic_ns();
        let drain = earliest_drain(parts).map(|since| {
            let due = since.saturating_add(interval);
            Duration::from_nanos(due.saturating_sub(now).max(1))
        });
        // Relaxed: this thread's own field.
        let lingering =
            now.saturating_sub(self.last_kvfree_work.load(Ordering::Relaxed)) < KVFREE_LINGER.as_nanos() as u64;
        let drain = drain.or_else(|| lingering.then(|| Duration::from_nanos((interval / 2).max(1))));
        // A partial callback list is looked at again after STALE_AFTER
        // (SeqCst loads: the other half of the store-buffering pair with
        // the owner's first store, see `local_callbacks.rs`).
        let lists = parts.defer.has_callback_lists().then_some(STALE_AFTER);
        match (drain, lists) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The earliest time from which the drain interval counts: a partial block's
/// first object, or a ready block handed back to an owner that has not
/// taken it yet.
fn earliest_drain(parts: Parts<'_>) -> Option<u64> {
    let dirty = parts.kvfree.earliest_dirty(parts.defer);
    let ready = parts.kvfree.earliest_ready(parts.defer);
    match (dirty, ready) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
