//! The reclaim thread and the deferred-callback machinery around it.
//!
//! # Life cycle of a callback
//!
//! 1. `call_rcu*` pushes the head on the wait-free [`CallbackQueue`] (one
//!    exchange) and counts it. If the queue was empty and the reclaim thread
//!    sleeps, it is woken; otherwise no syscall.
//! 2. The reclaim thread takes everything queued as one [`Segment`] and
//!    tags it with a grace-period cookie taken *after* the take (every head
//!    in it was enqueued before, so the cookie covers its unpublish).
//! 3. It runs every segment whose cookie has completed, oldest first, in
//!    enqueue order; otherwise it waits for the oldest cookie, leading a
//!    grace period or riding one already in flight (`GpSequence::wait_for`).
//!    Under load each drained batch costs one grace period, and callbacks
//!    queued during a grace period form the next batch.
//! 4. Idle, it sleeps on a futex event word; there is no periodic timer.
//!
//! # rcu_barrier
//!
//! Enqueues a marker head whose callback wakes the caller, and waits.
//! Segments run in order, so when the marker runs, every callback enqueued
//! before it (by any thread) has run. A callback that queues a further
//! callback while running enqueues it *after* the marker: `rcu_barrier`
//! waits for it only if the chain was queued before the barrier was called.
//! To drain chains of depth k, call `rcu_barrier` k times.
//!
//! # Backpressure
//!
//! `backlog = queued - invoked`. Past [`CallbackLimits::soft`] the producer
//! kicks the reclaim thread (wakes it even if it was not idle-empty). Past
//! [`CallbackLimits::hard`], a producer that may block (not in a read-side
//! section, not an online QSBR thread, not the reclaim thread itself) waits
//! until the backlog is back under the soft limit. Producers that may not
//! block never wait; their callbacks are queued regardless.
//!
//! # fork() and exit
//!
//! See `fork.rs` for the child. At process exit pending callbacks are not
//! run (as in liburcu and the kernel): call `rcu_barrier()` before exiting
//! if they must. A thread that exits strands nothing: its callbacks are in
//! the shared queue.

use crate::callback::{self, CallbackFn, RcuHead};
use crate::engine::Engine;
use crate::flavour::Flavour;
use crate::lock::ForkSafeMutex;
use crate::queue::{CallbackQueue, Segment};
use crate::sequence::GpState;
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Backlog thresholds for `call_rcu` (pending callbacks). See the module docs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CallbackLimits {
    /// Past this backlog producers kick the reclaim thread. Default 10,000
    /// (the kernel's `qhimark`).
    pub soft: u64,
    /// Past this backlog producers that may block wait for reclaim. Default
    /// 200,000 (about 10 MB of boxed closures); `u64::MAX` disables waiting.
    pub hard: u64,
}

impl Default for CallbackLimits {
    fn default() -> Self {
        CallbackLimits { soft: 10_000, hard: 200_000 }
    }
}

/// Segments waiting for their grace period, oldest first. A fixed ring, so
/// the reclaim thread never allocates; when full, the newest segment absorbs
/// the next one and takes its (later, hence conservative) cookie.
struct Pending {
    segments: [Option<(GpState, Segment)>; PENDING_SEGMENTS],
    len: usize,
}

const PENDING_SEGMENTS: usize = 4;

impl Pending {
    const fn new() -> Self {
        Pending { segments: [const { None }; PENDING_SEGMENTS], len: 0 }
    }

    fn push(&mut self, cookie: GpState, seg: Segment) {
        if self.len == PENDING_SEGMENTS {
            let (c, newest) = self.segments[self.len - 1].as_mut().expect("len counts filled slots");
            newest.append(seg);
            *c = cookie;
        } else {
            self.segments[self.len] = Some((cookie, seg));
            self.len += 1;
        }
    }

    fn oldest_cookie(&self) -> Option<GpState> {
        self.segments[0].as_ref().map(|(c, _)| *c)
    }

    /// Removes and concatenates every leading segment whose cookie is done.
    fn pop_ready(&mut self, is_done: impl Fn(GpState) -> bool) -> Option<Segment> {
        let mut ready: Option<Segment> = None;
        while self.len > 0 && is_done(self.oldest_cookie().expect("len > 0")) {
            let (_, seg) = self.segments[0].take().expect("len > 0");
            self.segments.rotate_left(1);
            self.len -= 1;
            match ready.as_mut() {
                Some(r) => r.append(seg),
                None => ready = Some(seg),
            }
        }
        ready
    }
}

thread_local! {
    /// Set on the reclaim thread: it must never wait for its own progress.
    static IN_RECLAIM_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a reclaim thread (running callbacks).
pub(crate) fn in_reclaim_thread() -> bool {
    IN_RECLAIM_THREAD.try_with(Cell::get).unwrap_or(false)
}

/// The reclaim thread's shared state (one per flavour).
pub struct Reclaimer {
    queue: CallbackQueue,
    pending: ForkSafeMutex<Pending>,
    /// Counters on their own lines: `queued` is written by every producer.
    pub(crate) queued: CachePadded<AtomicU64>,
    pub(crate) invoked: CachePadded<AtomicU64>,
    pub(crate) batches: AtomicU64,
    pub(crate) largest_batch: AtomicU64,
    pub(crate) peak_backlog: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) barriers: AtomicU64,
    limit_soft: AtomicU64,
    limit_hard: AtomicU64,
    /// The largest cookie some caller wants completed (polling).
    requested: AtomicU64,
    /// Bumped to wake the thread; it sleeps on this word.
    event: AtomicU32,
    /// The thread is (about to be) asleep on `event`.
    sleeping: AtomicBool,
    /// Producers waiting for the backlog to drop, and the word they sleep on.
    throttled: AtomicU32,
    progress: AtomicU32,
    /// The thread runs in this process (reset in a forked child).
    started: AtomicBool,
    start_lock: ForkSafeMutex<()>,
}

impl std::fmt::Debug for Reclaimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reclaimer").field("started", &self.started.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

/// An `rcu_barrier` caller's marker, on its stack.
#[repr(C)]
struct BarrierMarker {
    head: RcuHead,
    done: AtomicBool,
    waiter: std::thread::Thread,
}

/// The marker's callback: wakes the `rcu_barrier` caller.
///
/// # Safety
///
/// `head` is the first field of a `BarrierMarker` whose owner waits for `done`.
unsafe fn barrier_marker_ran(head: NonNull<RcuHead>) {
    // SAFETY: per the contract; the owner is parked until `done` is set.
    let m = unsafe { head.cast::<BarrierMarker>().as_ref() };
    // Clone first: once `done` is visible the marker may be gone.
    let waiter = m.waiter.clone();
    // Release pairs with the Acquire load in `Reclaimer::barrier`: every
    // callback run before the marker happens-before the barrier's return.
    m.done.store(true, Ordering::Release);
    waiter.unpark();
}

/// What the reclaim thread does next.
enum Step {
    Invoke(Segment),
    Wait(GpState),
    Idle,
}

impl Reclaimer {
    pub(crate) const fn new() -> Self {
        let limits = CallbackLimits { soft: 10_000, hard: 200_000 };
        Reclaimer {
            queue: CallbackQueue::new(),
            pending: ForkSafeMutex::new(Pending::new()),
            queued: CachePadded::new(AtomicU64::new(0)),
            invoked: CachePadded::new(AtomicU64::new(0)),
            batches: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            peak_backlog: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            barriers: AtomicU64::new(0),
            limit_soft: AtomicU64::new(limits.soft),
            limit_hard: AtomicU64::new(limits.hard),
            requested: AtomicU64::new(0),
            event: AtomicU32::new(0),
            sleeping: AtomicBool::new(false),
            throttled: AtomicU32::new(0),
            progress: AtomicU32::new(0),
            started: AtomicBool::new(false),
            start_lock: ForkSafeMutex::new(()),
        }
    }

    // ----- producers ----------------------------------------------------

    /// Queues `head`/`func`. Wait-free unless past the hard limit (see the
    /// module docs).
    ///
    /// # Safety
    ///
    /// As `CallbackQueue::push`.
    #[inline]
    pub(crate) unsafe fn enqueue<F: Flavour>(
        &self,
        engine: &'static Engine<F>,
        head: NonNull<RcuHead>,
        func: CallbackFn,
    ) {
        self.ensure_started(engine);
        // SAFETY: forwarded contract.
        let was_empty = unsafe { self.queue.push(head, func) };
        // Relaxed: a statistic and a backlog estimate; the queue itself
        // carries the synchronisation.
        let queued = self.queued.fetch_add(1, Ordering::Relaxed) + 1;
        if was_empty {
            self.wake_if_sleeping();
        }
        let backlog = queued.saturating_sub(self.invoked.load(Ordering::Relaxed));
        if backlog > self.limit_soft.load(Ordering::Relaxed) {
            self.over_soft_limit(engine, backlog);
        }
    }

    #[cold]
    #[inline(never)]
    fn over_soft_limit<F: Flavour>(&self, engine: &'static Engine<F>, backlog: u64) {
        self.peak_backlog.fetch_max(backlog, Ordering::Relaxed);
        self.kick();
        if backlog > self.limit_hard.load(Ordering::Relaxed) && engine.may_block() && !in_reclaim_thread() {
            self.throttle();
        }
    }

    /// Waits until the backlog is back under the soft limit.
    fn throttle(&self) {
        loop {
            // SeqCst on `throttled`, `invoked` here and on `invoked`,
            // `throttled` in `invoke_segment`: a store-buffering pair; one
            // side sees the other, so no wake-up is lost. The `progress`
            // value is read first, so a bump after it ends the sleep at once.
            let progress = self.progress.load(Ordering::SeqCst);
            self.throttled.fetch_add(1, Ordering::SeqCst);
            let backlog = self.backlog(Ordering::SeqCst);
            if backlog <= self.limit_soft.load(Ordering::Relaxed) {
                self.throttled.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            self.kick();
            crate::sys::futex_wait_u32(&self.progress, progress, None);
            self.throttled.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn backlog(&self, order: Ordering) -> u64 {
        let invoked = self.invoked.load(order);
        self.queued.load(Ordering::Relaxed).saturating_sub(invoked)
    }

    /// Sets the backlog thresholds.
    pub(crate) fn set_limits(&self, limits: CallbackLimits) {
        assert!(
            limits.soft <= limits.hard,
            "CallbackLimits: soft ({}) must not exceed hard ({})",
            limits.soft,
            limits.hard
        );
        // Relaxed: thresholds are advisory; a stale value for a few calls is fine.
        self.limit_soft.store(limits.soft, Ordering::Relaxed);
        self.limit_hard.store(limits.hard, Ordering::Relaxed);
    }

    /// The backlog thresholds in force.
    pub(crate) fn limits(&self) -> CallbackLimits {
        CallbackLimits { soft: self.limit_soft.load(Ordering::Relaxed), hard: self.limit_hard.load(Ordering::Relaxed) }
    }

    /// Asks the reclaim thread to complete `cookie`. Never blocks.
    pub(crate) fn request_gp<F: Flavour>(&self, engine: &'static Engine<F>, cookie: GpState) {
        self.ensure_started(engine);
        // SeqCst: pairs with the `sleeping` store / `requested` load in
        // `idle` (store-buffering pair, all four SeqCst).
        self.requested.fetch_max(cookie.seq(), Ordering::SeqCst);
        self.wake_if_sleeping();
    }

    fn wake_if_sleeping(&self) {
        // SeqCst: the second half of the store-buffering pairs described
        // in `push` (queue) and `request_gp`.
        if self.sleeping.load(Ordering::SeqCst) {
            self.kick();
        }
    }

    /// Wakes the thread unconditionally.
    pub(crate) fn kick(&self) {
        // SeqCst: a sleep that read the old event value returns at once.
        self.event.fetch_add(1, Ordering::SeqCst);
        crate::sys::futex_wake(&self.event, 1);
    }

    #[inline]
    fn ensure_started<F: Flavour>(&self, engine: &'static Engine<F>) {
        // Acquire pairs with the Release store after a successful spawn.
        if !self.started.load(Ordering::Acquire) {
            self.start(engine);
        }
    }

    #[cold]
    fn start<F: Flavour>(&self, engine: &'static Engine<F>) {
        engine.init();
        let _g = self.start_lock.lock();
        if !self.started.load(Ordering::Relaxed) {
            std::thread::Builder::new()
                .name(format!("rcu-{}-reclaim", F::NAME))
                .spawn(move || engine.reclaimer.run(engine))
                .unwrap_or_else(|e| panic!("rcu_{}: cannot start the reclaim thread: {e}", F::NAME));
            self.started.store(true, Ordering::Release);
        }
    }

    // ----- rcu_barrier ----------------------------------------------------

    /// Waits until every callback queued before the call has run.
    pub(crate) fn barrier<F: Flavour>(&self, engine: &'static Engine<F>) {
        let marker =
            BarrierMarker { head: RcuHead::new(), done: AtomicBool::new(false), waiter: std::thread::current() };
        self.barriers.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the marker stays in place on this stack frame until its
        // callback ran (we wait for `done` below before returning).
        unsafe { self.enqueue(engine, NonNull::from(&marker.head), barrier_marker_ran) };
        self.kick();
        // Acquire pairs with the Release store in `barrier_marker_ran`.
        while !marker.done.load(Ordering::Acquire) {
            std::thread::park();
        }
    }

    // ----- the thread -------------------------------------------------------

    fn run<F: Flavour>(&self, engine: &'static Engine<F>) {
        IN_RECLAIM_THREAD.with(|c| c.set(true));
        loop {
            match self.next_step(engine) {
                Step::Invoke(seg) => self.invoke_segment(F::NAME, seg),
                Step::Wait(cookie) => engine.wait_for(cookie),
                Step::Idle => self.idle(engine),
            }
        }
    }

    fn next_step<F: Flavour>(&self, engine: &'static Engine<F>) -> Step {
        let mut pending = self.pending.lock();
        if let Some(seg) = self.queue.take_all() {
            // The cookie is taken after the take: every head in `seg` was
            // enqueued (and its object unpublished) before this point.
            pending.push(engine.sequence().snapshot(), seg);
            self.peak_backlog.fetch_max(self.backlog(Ordering::Relaxed), Ordering::Relaxed);
        }
        if let Some(seg) = pending.pop_ready(|c| engine.poll(c)) {
            return Step::Invoke(seg);
        }
        if let Some(cookie) = pending.oldest_cookie() {
            return Step::Wait(cookie);
        }
        // Relaxed: re-read under SeqCst in `idle` before sleeping.
        let wanted = GpState::from_seq(self.requested.load(Ordering::Relaxed));
        if !engine.poll(wanted) {
            return Step::Wait(wanted);
        }
        Step::Idle
    }

    fn invoke_segment(&self, flavour: &str, seg: Segment) {
        // Counted in `invoked` per run of callbacks rather than per callback
        // (producers read `invoked`); flushed before each barrier marker so
        // a returning rcu_barrier sees its callbacks counted.
        let mut uncounted = 0u64;
        let n = seg.for_each(|h| {
            // SAFETY: every head in a ready segment was dequeued by this
            // thread; reading its function is the consumer's right.
            let func = unsafe { h.as_ref().func() };
            if std::ptr::fn_addr_eq(func, barrier_marker_ran as CallbackFn) {
                // The marker counts itself before it wakes its caller.
                self.invoked.fetch_add(std::mem::take(&mut uncounted) + 1, Ordering::SeqCst);
            } else {
                uncounted += 1;
            }
            // SAFETY: the grace period of every head in a ready segment has
            // completed.
            if unsafe { callback::invoke(h, flavour) } {
                self.panics.fetch_add(1, Ordering::Relaxed);
            }
        }) as u64;
        // SeqCst: see `throttle`.
        self.invoked.fetch_add(uncounted, Ordering::SeqCst);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.largest_batch.fetch_max(n, Ordering::Relaxed);
        if self.throttled.load(Ordering::SeqCst) > 0 {
            self.progress.fetch_add(1, Ordering::SeqCst);
            crate::sys::futex_wake(&self.progress, i32::MAX);
        }
    }

    /// Sleeps until new work arrives.
    fn idle<F: Flavour>(&self, engine: &'static Engine<F>) {
        // SeqCst: the event is read before announcing the sleep, then the
        // work sources are re-checked; see `wake_if_sleeping`.
        let event = self.event.load(Ordering::SeqCst);
        self.sleeping.store(true, Ordering::SeqCst);
        let wanted = GpState::from_seq(self.requested.load(Ordering::SeqCst));
        if self.queue.is_empty() && engine.poll(wanted) {
            crate::sys::futex_wait_u32(&self.event, event, None);
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }

    // ----- fork ---------------------------------------------------------------

    /// Takes the locks a forked child would otherwise inherit held.
    pub(crate) fn lock_for_fork(&self) {
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

    /// Child side: the reclaim thread does not exist here. Pending callbacks
    /// stay queued and run once the thread is restarted by the next
    /// `call_rcu`, `rcu_barrier` or polled grace period in the child.
    pub(crate) fn reset_after_fork_child(&self) {
        self.queue.repair_after_fork_child();
        // Relaxed: the child is single-threaded here.
        self.started.store(false, Ordering::Relaxed);
        self.sleeping.store(false, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        unsafe {
            self.pending.raw_unlock();
            self.start_lock.raw_unlock();
        }
    }
}
