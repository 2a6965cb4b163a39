//! The reclaim thread and the deferred-callback machinery around it.
//!
//! # Life cycle of a callback
//!
//! 1. `call_rcu*` appends the head to the calling thread's own list (plain
//!    stores, see `local_callbacks.rs`) and counts it. Every
//!    [`FLUSH_EVERY`](crate::defer::local_callbacks::FLUSH_EVERY) callbacks the
//!    owner pushes the whole list on the wait-free [`CallbackQueue`] (one
//!    exchange); partial lists are stolen by `rcu_barrier` and by the
//!    reclaim thread once nothing else is pending. When a list starts (or
//!    the queue was empty) and the reclaim thread sleeps, it is woken;
//!    otherwise no syscall.
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
//! `backlog = queued - invoked` (see "Counting"). Past [`CallbackLimits::soft`] the producer
//! kicks the reclaim thread (wakes it even if it was not idle-empty). Past
//! [`CallbackLimits::hard`], a producer that may block (not in a read-side
//! section, not an online QSBR thread, not the reclaim thread itself) waits
//! until the backlog is back under the soft limit. Producers that may not
//! block never wait; their callbacks are queued regardless. `kvfree_rcu`
//! producers also wait once the kvfree objects alone pass
//! [`KVFREE_BACKLOG_HARD`](crate::kvfree::KVFREE_BACKLOG_HARD), which keeps a
//! flood's memory near a cache-warm working set.
//!
//! # Counting
//!
//! `queued` is shared by every producer; a `fetch_add` on it per enqueue
//! would bounce its cache line between producers on every call (measured
//! in BENCHMARKS.md, "Design choices, measured"). Each thread counts its enqueues in a
//! thread-local residual instead and adds it to `queued` once per
//! `BACKLOG_CHECK_EVERY` (32) enqueues, when it checks the backlog; also
//! when it switches flavour, at thread exit (the residual's destructor) and
//! before `fork()`. So `queued` lags the truth by at most 31 per live
//! thread (never leads it), and the backlog seen by producers and the
//! reclaim thread is low by as much: the limits may be overshot by 32 per
//! producing thread. `stats()` reports `max(queued, invoked)` as queued:
//! after `rcu_barrier` (no enqueue racing it) every callback queued has
//! been invoked and counted, so the figures are exact and the backlog 0
//! even while idle threads hold residuals.
//!
//! # fork() and exit
//!
//! See `fork.rs` for the child. At process exit pending callbacks are not
//! run (as in liburcu and the kernel): call `rcu_barrier()` before exiting
//! if they must. A thread that exits strands nothing: its thread-exit
//! destructor hands its own list to the shared queue.

use crate::block::{Block, SealedBlock};
use crate::defer::callback::{self, CallbackFn, RcuHead};
use crate::defer::local_callbacks::{Appended, STALE_AFTER};
use crate::defer::queue::{CallbackQueue, Segment};
use crate::engine::Engine;
use crate::gp::sequence::GpState;
use crate::kvfree::{CallbackLists, DeferSlot, Steal};
use crate::reader::SlotPtr;
use crate::sys::lock::ForkSafeMutex;
use crate::thread::FlavourLocals;
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

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
    /// Sealed kvfree blocks, sorted by cookie (oldest first), linked
    /// through their headers; `blocks_tail` is the newest.
    blocks_head: *mut Block,
    blocks_tail: *mut Block,
}

// SAFETY: the raw block pointers are owned by this structure (sealed blocks
// handed to the reclaim thread); only the lock holder touches them.
unsafe impl Send for Pending {}

const PENDING_SEGMENTS: usize = 4;

impl Pending {
    const fn new() -> Self {
        Pending {
            segments: [const { None }; PENDING_SEGMENTS],
            len: 0,
            blocks_head: std::ptr::null_mut(),
            blocks_tail: std::ptr::null_mut(),
        }
    }

    /// Inserts a sealed block in cookie order (usually at the tail: cookies
    /// mostly arrive in order).
    fn insert_block(&mut self, sealed: SealedBlock) {
        let cookie = sealed.cookie();
        let b = sealed.into_raw().as_ptr();
        // SAFETY: every pointer in the list is a sealed block owned by it.
        unsafe {
            if self.blocks_tail.is_null() {
                (*b).next = std::ptr::null_mut();
                self.blocks_head = b;
                self.blocks_tail = b;
            } else if (*self.blocks_tail).cookie <= cookie {
                (*b).next = std::ptr::null_mut();
                (*self.blocks_tail).next = b;
                self.blocks_tail = b;
            } else {
                let mut link: *mut *mut Block = &mut self.blocks_head;
                while !(*link).is_null() && (**link).cookie <= cookie {
                    link = &mut (**link).next;
                }
                (*b).next = *link;
                *link = b;
            }
        }
    }

    fn oldest_block_cookie(&self) -> Option<GpState> {
        // SAFETY: as in `insert_block`.
        NonNull::new(self.blocks_head).map(|b| unsafe { b.as_ref().cookie })
    }

    /// Detaches the leading blocks whose cookie is done (a linked list).
    fn pop_ready_blocks(&mut self, is_done: impl Fn(GpState) -> bool) -> *mut Block {
        let first = self.blocks_head;
        let mut last: *mut Block = std::ptr::null_mut();
        // SAFETY: as in `insert_block`.
        unsafe {
            while !self.blocks_head.is_null() && is_done((*self.blocks_head).cookie) {
                last = self.blocks_head;
                self.blocks_head = (*last).next;
            }
            if last.is_null() {
                return std::ptr::null_mut();
            }
            (*last).next = std::ptr::null_mut();
            if self.blocks_head.is_null() {
                self.blocks_tail = std::ptr::null_mut();
            }
        }
        first
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
    /// `AWAKE`, or asleep (about to be) on `event`, with or without timer.
    sleeping: AtomicU8,
    /// Producers waiting for the backlog to drop, and the word they sleep on.
    throttled: AtomicU32,
    progress: AtomicU32,
    /// `rcu_barrier` callers waiting now (they make grace periods urgent).
    barriers_waiting: AtomicU32,
    /// When the thread last started waiting for a grace period (ns).
    last_gp_start: AtomicU64,
    /// When the thread last looked at the threads' callback lists while
    /// batches were pending (ns).
    last_list_look: AtomicU64,
    /// The thread runs in this process (reset in a forked child).
    started: AtomicBool,
    start_lock: ForkSafeMutex<()>,
}

impl std::fmt::Debug for Reclaimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reclaimer").field("started", &self.started.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

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
fn flush_queued_residual() {
    let _ = QUEUED_RESIDUAL.try_with(QueuedResidual::flush);
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
    FreeBlocks(NonNull<Block>),
    Invoke(Segment),
    DrainPartialBlocks,
    /// Nothing is pending but some thread's own callback list has heads.
    StealCallbacks,
    Wait(GpState),
    Idle,
}

const AWAKE: u8 = 0;
/// Asleep until the drain timer fires (or a kick).
const SLEEPING_TIMED: u8 = 1;
/// Asleep until kicked.
const SLEEPING_UNTIMED: u8 = 2;
/// Waiting out the gather window: only urgent kicks wake it.
const GATHERING: u8 = 3;

/// The reclaim thread starts at most one grace period per window unless
/// something is urgent (an `rcu_barrier` waits, a polled grace period was
/// requested, or the backlog is past the soft limit). Callbacks that arrive
/// meanwhile join the next batch. Without it, a steady stream of
/// `call_rcu` made the thread run back-to-back grace periods, and each memb
/// grace period's two membarrier IPIs interrupt the producers (the
/// `call_rcu_enqueue` figure in BENCHMARKS.md, "Design choices, measured").
/// An isolated callback still starts a grace period at once.
pub const GATHER_WINDOW: Duration = Duration::from_millis(1);

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
            sleeping: AtomicU8::new(AWAKE),
            throttled: AtomicU32::new(0),
            progress: AtomicU32::new(0),
            barriers_waiting: AtomicU32::new(0),
            last_gp_start: AtomicU64::new(0),
            last_list_look: AtomicU64::new(0),
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
    pub(crate) unsafe fn enqueue<F: FlavourLocals>(
        &'static self,
        engine: &'static Engine<F>,
        head: NonNull<RcuHead>,
        func: CallbackFn,
    ) {
        self.ensure_started(engine);
        let needs_wake = match F::defer_key().with(SlotPtr::get) {
            // SAFETY: forwarded contract.
            Some(slot) => unsafe { self.append_local(slot, head, func) },
            // SAFETY: forwarded contract.
            None => unsafe { self.enqueue_unregistered(engine, head, func) },
        };
        if needs_wake {
            self.wake_if_sleeping();
        }
        self.count_and_check(engine);
    }

    /// Appends to the calling thread's own list (see `local_callbacks.rs`).
    /// Returns whether the reclaim thread may need a wake-up.
    ///
    /// # Safety
    ///
    /// `slot` is the calling thread's; otherwise as `CallbackQueue::push`.
    #[inline]
    unsafe fn append_local(&self, slot: &DeferSlot, head: NonNull<RcuHead>, func: CallbackFn) -> bool {
        crate::kvfree::owner_section(slot, || {
            // SAFETY: our slot, inside its bracket; the head per the contract.
            match unsafe { slot.append_callback(head, func) } {
                Appended::Added => false,
                Appended::Started => true,
                // Handed over inside the bracket, so that a concurrent
                // `rcu_barrier` that finds the list gone waits until it is
                // in the queue (see `Kvfree::steal`).
                // SAFETY: a complete list taken from our slot.
                Appended::Full(first, last) => unsafe { self.queue.push_list(first, last) },
            }
        })
    }

    /// A thread without a deferral slot: claims one, or, during its
    /// thread-local destruction, pushes on the shared queue directly.
    ///
    /// # Safety
    ///
    /// As `CallbackQueue::push`.
    #[cold]
    #[inline(never)]
    unsafe fn enqueue_unregistered<F: FlavourLocals>(
        &self,
        engine: &'static Engine<F>,
        head: NonNull<RcuHead>,
        func: CallbackFn,
    ) -> bool {
        match engine.register_kvfree() {
            // SAFETY: forwarded contract; the slot is the calling thread's.
            Some(slot) => unsafe { self.append_local(slot, head, func) },
            // SAFETY: forwarded contract.
            None => unsafe { self.queue.push(head, func) },
        }
    }

    /// Hands a complete list (`first ..= last`) to the shared queue: a
    /// thread's list at its exit, or one a stealer took.
    pub(crate) fn push_list(&self, first: NonNull<RcuHead>, last: NonNull<RcuHead>) {
        // SAFETY: the caller took the list from its slot: complete, owned,
        // in no queue.
        if unsafe { self.queue.push_list(first, last) } {
            self.wake_if_sleeping();
        }
    }

    /// Counts one enqueue and checks the backlog (see "Counting").
    #[inline]
    fn count_and_check<F: FlavourLocals>(&'static self, engine: &'static Engine<F>) {
        // The backlog is checked when this thread's count is flushed (once
        // per BACKLOG_CHECK_EVERY of its enqueues): reading `invoked`, which
        // the reclaim thread writes, on every enqueue cost a cache-line
        // transfer each time. Overshoot past a limit is bounded by that many
        // callbacks per producing thread.
        if let Some(queued) = self.count_enqueue() {
            let backlog = queued.saturating_sub(self.invoked.load(Ordering::Relaxed));
            if backlog > self.limit_soft.load(Ordering::Relaxed) {
                self.over_soft_limit(engine, backlog);
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
    fn over_soft_limit<F: FlavourLocals>(&self, engine: &'static Engine<F>, backlog: u64) {
        self.peak_backlog.fetch_max(backlog, Ordering::Relaxed);
        // Urgent: end a gather window or an idle sleep, but issue no
        // syscall while the thread is already running.
        self.wake_unless_awake();
        if backlog > self.limit_hard.load(Ordering::Relaxed) {
            self.throttle_if_allowed(engine);
        }
    }

    /// Waits until the backlog is back under the soft limit.
    fn throttle<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
        loop {
            // SeqCst on `throttled`, `invoked` here and on `invoked`,
            // `throttled` in `invoke_segment`: a store-buffering pair; one
            // side sees the other, so no wake-up is lost. The `progress`
            // value is read first, so a bump after it ends the sleep at once.
            let progress = self.progress.load(Ordering::SeqCst);
            self.throttled.fetch_add(1, Ordering::SeqCst);
            if self.total_backlog(engine) <= self.limit_soft.load(Ordering::Relaxed) {
                self.throttled.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            self.kick();
            crate::sys::futex_wait_u32(&self.progress, progress, None);
            self.throttled.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Callbacks queued and not yet run.
    fn backlog(&self, order: Ordering) -> u64 {
        let invoked = self.invoked.load(order);
        self.queued.load(Ordering::Relaxed).saturating_sub(invoked)
    }

    /// Everything waiting for reclaim: callbacks and kvfree objects.
    fn total_backlog<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> u64 {
        self.backlog(Ordering::SeqCst) + engine.kvfree.backlog()
    }

    /// Whether memory is under pressure (backlog past the soft limit): then
    /// freed kvfree blocks are not cached.
    pub(crate) fn under_pressure<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> bool {
        self.total_backlog(engine) > self.limit_soft.load(Ordering::Relaxed)
    }

    /// A kvfree block was sealed: make sure the thread runs. Returns whether
    /// the backlog is past the hard limit, or the kvfree backlog past
    /// [`KVFREE_BACKLOG_HARD`](crate::kvfree::KVFREE_BACKLOG_HARD).
    pub(crate) fn note_sealed<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> bool {
        self.ensure_started(engine);
        self.wake_if_sleeping();
        let kvfree_backlog = engine.kvfree.backlog();
        // SeqCst: as in `total_backlog` (the `invoked` side of the
        // store-buffering pair described in `throttle`).
        let backlog = self.backlog(Ordering::SeqCst) + kvfree_backlog;
        // Relaxed: a statistic.
        self.peak_backlog.fetch_max(backlog, Ordering::Relaxed);
        // Relaxed: the thresholds are advisory (see `set_limits`).
        backlog > self.limit_hard.load(Ordering::Relaxed) || kvfree_backlog > crate::kvfree::KVFREE_BACKLOG_HARD
    }

    /// A deferral slot got its first object: arm the drain timer.
    pub(crate) fn wake_for_timer<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
        self.ensure_started(engine);
        // SeqCst: pairs with `idle` (see `Kvfree::earliest_dirty`).
        if self.sleeping.load(Ordering::SeqCst) == SLEEPING_UNTIMED {
            self.kick();
        }
    }

    /// Waits for reclaim if past the hard limit and the caller may block.
    pub(crate) fn throttle_if_allowed<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
        if engine.may_block() && !in_reclaim_thread() {
            self.throttle(engine);
        }
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
    pub(crate) fn request_gp<F: FlavourLocals>(&self, engine: &'static Engine<F>, cookie: GpState) {
        self.ensure_started(engine);
        // SeqCst: pairs with the `sleeping` store / `requested` load in
        // `idle` (store-buffering pair, all four SeqCst).
        self.requested.fetch_max(cookie.seq(), Ordering::SeqCst);
        self.wake_unless_awake();
    }

    fn wake_if_sleeping(&self) {
        // SeqCst: the second half of the store-buffering pairs described
        // in `push` (queue) and `request_gp`. A thread waiting out the
        // gather window is not woken: the work joins its next batch.
        let state = self.sleeping.load(Ordering::SeqCst);
        if state == SLEEPING_TIMED || state == SLEEPING_UNTIMED {
            self.kick();
        }
    }

    /// Wakes the thread if it sleeps for any reason, gather window included
    /// (for urgent work).
    fn wake_unless_awake(&self) {
        // SeqCst: as in `wake_if_sleeping`; `gather` re-checks urgency
        // after announcing its state.
        if self.sleeping.load(Ordering::SeqCst) != AWAKE {
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
    fn ensure_started<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
        // Acquire pairs with the Release store after a successful spawn.
        if !self.started.load(Ordering::Acquire) {
            self.start(engine);
        }
    }

    #[cold]
    fn start<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
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
    pub(crate) fn barrier<F: FlavourLocals>(&'static self, engine: &'static Engine<F>) {
        // Partial kvfree blocks of every thread, idle or not, are sealed
        // first; the marker, queued after, runs after they are freed (see
        // `next_step`: the queue is taken before the inbox, and ready blocks
        // are freed before ready callbacks run).
        // So are the callback lists of every thread (handed to the queue
        // before the marker).
        engine.kvfree.steal(engine, Steal::Barrier);
        let marker =
            BarrierMarker { head: RcuHead::new(), done: AtomicBool::new(false), waiter: std::thread::current() };
        self.barriers.fetch_add(1, Ordering::Relaxed);
        // SeqCst: read by the reclaim thread after the kick below wakes it.
        self.barriers_waiting.fetch_add(1, Ordering::SeqCst);
        self.ensure_started(engine);
        // On the shared queue, behind everything handed over so far (never
        // on this thread's own list, which no one would steal before the
        // marker runs).
        // SAFETY: the marker stays in place on this stack frame until its
        // callback ran (we wait for `done` below before returning).
        unsafe { self.queue.push(NonNull::from(&marker.head), barrier_marker_ran) };
        self.count_and_check(engine);
        self.kick();
        // Acquire pairs with the Release store in `barrier_marker_ran`.
        while !marker.done.load(Ordering::Acquire) {
            std::thread::park();
        }
        self.barriers_waiting.fetch_sub(1, Ordering::Relaxed);
    }

    // ----- the thread -------------------------------------------------------

    fn run<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
        IN_RECLAIM_THREAD.with(|c| c.set(true));
        // Callback and destructor panics are caught where they run; any
        // other panic here is an internal error. Dying silently would strand
        // every later callback and hang rcu_barrier, so abort loudly.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop(engine)));
        if result.is_err() {
            eprintln!("rcu_{}: internal error: the reclaim thread panicked; aborting", F::NAME);
            std::process::abort();
        }
    }

    fn run_loop<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> ! {
        loop {
            match self.next_step(engine) {
                Step::FreeBlocks(first) => self.free_blocks(engine, first),
                Step::Invoke(seg) => self.invoke_segment(F::NAME, seg),
                Step::DrainPartialBlocks => {
                    let older_than = engine.kvfree.drain_interval().as_nanos() as u64;
                    engine.kvfree.steal(engine, Steal::DrainTimer { older_than });
                }
                Step::StealCallbacks => {
                    engine.kvfree.steal(engine, Steal::Callbacks);
                }
                Step::Wait(cookie) => self.wait_for_grace_period(engine, cookie),
                Step::Idle => self.idle(engine),
            }
        }
    }

    /// Waits for `cookie`, starting at most one grace period per
    /// [`GATHER_WINDOW`] unless something is urgent (see there).
    fn wait_for_grace_period<F: FlavourLocals>(&self, engine: &'static Engine<F>, cookie: GpState) {
        let now = crate::sys::monotonic_ns();
        let since = now.saturating_sub(self.last_gp_start.load(Ordering::Relaxed));
        let window = GATHER_WINDOW.as_nanos() as u64;
        if since < window && !self.is_urgent(engine) && !engine.poll(cookie) {
            self.gather(Duration::from_nanos(window - since), engine);
            return; // take what arrived, then decide again
        }
        self.last_gp_start.store(now, Ordering::Relaxed);
        engine.wait_for(cookie);
    }

    fn is_urgent<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> bool {
        // SeqCst: pairs with the increments in `barrier`/`request_gp`,
        // which kick this thread after them.
        self.barriers_waiting.load(Ordering::SeqCst) > 0
            || !engine.poll(GpState::from_seq(self.requested.load(Ordering::SeqCst)))
            || self.total_backlog(engine) > self.limit_soft.load(Ordering::Relaxed)
    }

    /// Sleeps out the rest of the gather window; an urgent kick ends it.
    fn gather<F: FlavourLocals>(&self, rest: Duration, engine: &'static Engine<F>) {
        // SeqCst: the event is read before the state is announced and the
        // urgency re-checked, so a kick after this point ends the sleep.
        let event = self.event.load(Ordering::SeqCst);
        self.sleeping.store(GATHERING, Ordering::SeqCst);
        if !self.is_urgent(engine) {
            crate::sys::futex_wait_u32(&self.event, event, Some(rest));
        }
        self.sleeping.store(AWAKE, Ordering::Relaxed);
    }

    fn next_step<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> Step {
        let mut pending = self.pending.lock();
        // The queue before the inbox: an rcu_barrier marker seen here was
        // queued after its caller sealed the partial blocks, so the inbox
        // take below sees those blocks.
        if let Some(seg) = self.queue.take_all() {
            // The cookie is taken after the take: every head in `seg` was
            // enqueued (and its object unpublished) before this point.
            pending.push(engine.sequence().snapshot(), seg);
        }
        let mut inbox = engine.kvfree.take_inbox();
        while let Some(b) = NonNull::new(inbox) {
            // SAFETY: blocks in the inbox are sealed and now owned by us.
            inbox = unsafe { b.as_ref().next };
            // SAFETY: produced by `SealedBlock::into_raw` in `push_inbox`.
            pending.insert_block(unsafe { SealedBlock::from_raw(b) });
        }
        self.peak_backlog.fetch_max(self.total_backlog(engine), Ordering::Relaxed);
        // Ready blocks before ready callbacks (see `barrier`).
        if let Some(first) = NonNull::new(pending.pop_ready_blocks(|c| engine.poll(c))) {
            return Step::FreeBlocks(first);
        }
        if let Some(seg) = pending.pop_ready(|c| engine.poll(c)) {
            return Step::Invoke(seg);
        }
        drop(pending);
        if self.drain_due(engine) {
            return Step::DrainPartialBlocks;
        }
        let pending = self.pending.lock();
        let oldest = match (pending.oldest_cookie(), pending.oldest_block_cookie()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(cookie) = oldest {
            // While batches are pending, the lists get a look at most every
            // STALE_AFTER: otherwise a thread that keeps handing over full
            // lists would keep a quiet thread's partial list waiting.
            drop(pending);
            if self.list_look_due() && engine.kvfree.look_at_callback_lists() == CallbackLists::Quiet {
                return Step::StealCallbacks;
            }
            return Step::Wait(cookie);
        }
        // Nothing pending: a look now; only lists unchanged since the
        // previous look are stolen (busy producers hand their lists over
        // themselves, and a steal costs a heavy barrier). `idle` comes back
        // to a busy list after STALE_AFTER.
        if engine.kvfree.look_at_callback_lists() == CallbackLists::Quiet {
            return Step::StealCallbacks;
        }
        // Relaxed: re-read under SeqCst in `idle` before sleeping.
        let wanted = GpState::from_seq(self.requested.load(Ordering::Relaxed));
        if !engine.poll(wanted) {
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

    /// Whether some partial kvfree block has waited the drain interval.
    fn drain_due<F: FlavourLocals>(&self, engine: &'static Engine<F>) -> bool {
        let interval = engine.kvfree.drain_interval().as_nanos() as u64;
        engine.kvfree.earliest_dirty().is_some_and(|t| crate::sys::monotonic_ns().saturating_sub(t) >= interval)
    }

    fn free_blocks<F: FlavourLocals>(&self, engine: &'static Engine<F>, first: NonNull<Block>) {
        let mut next = first.as_ptr();
        while let Some(b) = NonNull::new(next) {
            // SAFETY: detached from the pending list by `pop_ready_blocks`,
            // so owned here; read the link before the block is recycled.
            next = unsafe { b.as_ref().next };
            // SAFETY: every block in the list is sealed.
            engine.kvfree.free_block(engine, unsafe { SealedBlock::from_raw(b) });
        }
        self.wake_throttled();
    }

    fn wake_throttled(&self) {
        // SeqCst: see `throttle`.
        if self.throttled.load(Ordering::SeqCst) > 0 {
            self.progress.fetch_add(1, Ordering::SeqCst);
            crate::sys::futex_wake(&self.progress, i32::MAX);
        }
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
        self.wake_throttled();
    }

    /// Sleeps until new work arrives, or until the drain timer fires when
    /// some thread has a partial kvfree block.
    fn idle<F: FlavourLocals>(&self, engine: &'static Engine<F>) {
        // SeqCst: the event is read before announcing the sleep, then the
        // work sources are re-checked; see `wake_if_sleeping`,
        // `wake_for_timer` and `Kvfree::earliest_dirty`.
        let event = self.event.load(Ordering::SeqCst);
        self.sleeping.store(SLEEPING_UNTIMED, Ordering::SeqCst);
        let wanted = GpState::from_seq(self.requested.load(Ordering::SeqCst));
        let has_work = !self.queue.is_empty() || !engine.poll(wanted) || engine.kvfree.has_inbox();
        if !has_work {
            let drain = engine.kvfree.earliest_dirty().map(|since| {
                let due = since.saturating_add(engine.kvfree.drain_interval().as_nanos() as u64);
                Duration::from_nanos(due.saturating_sub(crate::sys::monotonic_ns()).max(1))
            });
            // A partial callback list is looked at again after STALE_AFTER
            // (SeqCst loads: the other half of the store-buffering pair with
            // the owner's first store, see `local_callbacks.rs`).
            let lists = engine.kvfree.has_callback_lists().then_some(STALE_AFTER);
            let timeout = match (drain, lists) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if timeout.is_some() {
                self.sleeping.store(SLEEPING_TIMED, Ordering::SeqCst);
            }
            crate::sys::futex_wait_u32(&self.event, event, timeout);
        }
        self.sleeping.store(AWAKE, Ordering::Relaxed);
    }

    // ----- fork ---------------------------------------------------------------

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

    /// Child side: the reclaim thread does not exist here. Pending callbacks
    /// stay queued and run once the thread is restarted by the next
    /// `call_rcu`, `rcu_barrier` or polled grace period in the child. Lists
    /// broken by a producer caught mid-enqueue are cut, rcu_barrier markers
    /// of threads that do not exist here are unlinked (their stacks are
    /// gone), and the counters are recomputed from what is actually left.
    /// Returns the (blocks, objects) of kvfree blocks still pending here.
    pub(crate) fn reset_after_fork_child(&self, kvfree: &crate::kvfree::Kvfree) -> (u64, u64) {
        let is_marker = |h: NonNull<RcuHead>| {
            // SAFETY: single-threaded child; every queued head has a function.
            std::ptr::fn_addr_eq(unsafe { h.as_ref().func() }, barrier_marker_ran as CallbackFn)
        };
        let mut left = self.queue.repair_after_fork_child(is_marker) as u64;
        // Threads' own lists join the repaired queue (after the repair: a
        // list pushed behind a break would be cut off with it).
        left += kvfree.flush_callback_lists_after_fork(&self.queue) as u64;
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        let pending = unsafe { &mut *self.pending.value_ptr() };
        let mut kept = Pending::new();
        (kept.blocks_head, kept.blocks_tail) = (pending.blocks_head, pending.blocks_tail);
        for slot in pending.segments.iter_mut().take(pending.len) {
            let (cookie, seg) = slot.take().expect("len counts filled slots");
            let (seg, n) = seg.repair_after_fork_child(is_marker);
            left += n as u64;
            if let Some(seg) = seg {
                kept.push(cookie, seg);
            }
        }
        *pending = kept;
        let (mut blocks, mut objects) = (0, 0);
        let mut b = pending.blocks_head;
        while let Some(block) = NonNull::new(b) {
            // SAFETY: pending blocks are sealed and owned by this list.
            let block = unsafe { block.as_ref() };
            blocks += 1;
            objects += block.objects() as u64;
            b = block.next;
        }
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
        self.sleeping.store(AWAKE, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        unsafe {
            self.pending.raw_unlock();
            self.start_lock.raw_unlock();
        }
        (blocks, objects)
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
