//! The reclaimer's shared state, its limits and its set-up; the handles
//! ([`Parts`]) it works with.

use super::pending::Pending;
use crate::defer::deferrals::Deferrals;
use crate::gp::sequence::{GpSequence, GpState};
use crate::kvfree::Kvfree;
use crate::stats::Stats;
use crate::sys::lock::ForkSafeMutex;
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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

/// What the reclaimer works on besides its own state: the handles the
/// engine gives it (never the engine itself).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parts<'a> {
    /// The flavour's name, for messages and the thread's name.
    pub(crate) flavour: &'static str,
    /// The deferral slots, the shared queue and the doorbell.
    pub(crate) defer: &'a Deferrals,
    /// The kvfree inbox and counters.
    pub(crate) kvfree: &'a Kvfree,
    /// Cookies and polling.
    pub(crate) sequence: &'a GpSequence,
}

thread_local! {
    /// Set on the reclaim thread: it must never wait for its own progress.
    pub(super) static IN_RECLAIM_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a reclaim thread (running callbacks).
pub(crate) fn in_reclaim_thread() -> bool {
    IN_RECLAIM_THREAD.try_with(Cell::get).unwrap_or(false)
}

/// The reclaim thread's shared state (one per flavour).
pub struct Reclaimer {
    pub(super) pending: ForkSafeMutex<Pending>,
    /// Counters on their own lines: `queued` is written by every producer.
    pub(super) queued: CachePadded<AtomicU64>,
    pub(super) invoked: CachePadded<AtomicU64>,
    pub(super) batches: AtomicU64,
    pub(super) largest_batch: AtomicU64,
    pub(super) peak_backlog: AtomicU64,
    pub(super) panics: AtomicU64,
    pub(super) barriers: AtomicU64,
    pub(super) limit_soft: AtomicU64,
    pub(super) limit_hard: AtomicU64,
    /// [`ReclaimPacing`], in nanoseconds and objects.
    pub(super) gather_window_ns: AtomicU64,
    pub(super) kvfree_hard: AtomicU64,
    /// The largest cookie some caller wants completed (polling).
    pub(super) requested: AtomicU64,
    /// Producers waiting for the backlog to drop, and the word they sleep on.
    pub(super) throttled: AtomicU32,
    pub(super) progress: AtomicU32,
    /// `rcu_barrier` callers waiting now (they make grace periods urgent).
    pub(super) barriers_waiting: AtomicU32,
    /// When the thread last started waiting for a grace period (ns).
    pub(super) last_gp_start: AtomicU64,
    /// When the thread last looked at the threads' callback lists while
    /// batches were pending (ns).
    pub(super) last_list_look: AtomicU64,
    /// When the thread last took or sealed a kvfree block (ns): for a
    /// while after, it sleeps with a timer even with no partial block, so
    /// that a producer's next first object needs no wake-up (`idle`).
    pub(super) last_kvfree_work: AtomicU64,
    /// The thread runs in this process (reset in a forked child).
    pub(super) started: AtomicBool,
    /// The thread's `pthread_t` once started (the C ABI's
    /// `get_call_rcu_thread`).
    pthread: AtomicU64,
    pub(super) start_lock: ForkSafeMutex<()>,
}

impl std::fmt::Debug for Reclaimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reclaimer").field("started", &self.started.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

/// How the reclaim thread paces its batches. The defaults suit Rust
/// programs (a short window, floods held near a cache-warm working set);
/// the C ABI (`rcu-capi`) sets liburcu's pacing instead (see its docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReclaimPacing {
    /// The reclaim thread starts at most one grace period per window
    /// unless something is urgent (an `rcu_barrier` waits, a polled grace
    /// period was requested, or the backlog is past the soft limit).
    /// Callbacks that arrive meanwhile join the next batch. Without it, a
    /// steady stream of `call_rcu` made the thread run back-to-back grace
    /// periods, and each memb grace period's two membarrier IPIs interrupt
    /// the producers (the `call_rcu_enqueue` figure in BENCHMARKS.md,
    /// "Design choices, measured"). An isolated callback still starts a
    /// grace period at once. Default 1 ms.
    pub gather_window: Duration,
    /// Past this many kvfree objects waiting for reclaim, a caller that may
    /// block waits for reclaim when it seals a block (default
    /// [`KVFREE_BACKLOG_HARD`](crate::kvfree::KVFREE_BACKLOG_HARD)).
    pub kvfree_backlog_hard: u64,
}

impl Default for ReclaimPacing {
    fn default() -> Self {
        DEFAULT_PACING
    }
}

const DEFAULT_PACING: ReclaimPacing =
    ReclaimPacing { gather_window: Duration::from_millis(1), kvfree_backlog_hard: crate::kvfree::KVFREE_BACKLOG_HARD };

impl Reclaimer {
    pub(crate) const fn new() -> Self {
        let limits = CallbackLimits { soft: 10_000, hard: 200_000 };
        Reclaimer {
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
            gather_window_ns: AtomicU64::new(DEFAULT_PACING.gather_window.as_nanos() as u64),
            kvfree_hard: AtomicU64::new(DEFAULT_PACING.kvfree_backlog_hard),
            requested: AtomicU64::new(0),
            throttled: AtomicU32::new(0),
            progress: AtomicU32::new(0),
            barriers_waiting: AtomicU32::new(0),
            last_gp_start: AtomicU64::new(0),
            last_list_look: AtomicU64::new(0),
            last_kvfree_work: AtomicU64::new(0),
            started: AtomicBool::new(false),
            pthread: AtomicU64::new(0),
            start_lock: ForkSafeMutex::new(()),
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
        // Relaxed: as in `set_limits`.
        CallbackLimits { soft: self.limit_soft.load(Ordering::Relaxed), hard: self.limit_hard.load(Ordering::Relaxed) }
    }

    /// Sets the pacing (takes effect at the thread's next decision).
    pub(crate) fn set_pacing(&self, pacing: ReclaimPacing) {
        let window = u64::try_from(pacing.gather_window.as_nanos()).unwrap_or(u64::MAX);
        // Relaxed, pairing with nothing: each word is a setting read on its
        // own (by `pacing`, the gather decision in `thread.rs` and
        // `note_sealed`), no data is published with it, and a reader that
        // sees the old value for a while only batches or throttles as before.
        self.gather_window_ns.store(window, Ordering::Relaxed);
        self.kvfree_hard.store(pacing.kvfree_backlog_hard, Ordering::Relaxed);
    }

    /// The pacing in force.
    pub(crate) fn pacing(&self) -> ReclaimPacing {
        // Relaxed: pairs with nothing (see `set_pacing`).
        let gather_window = Duration::from_nanos(self.gather_window_ns.load(Ordering::Relaxed));
        ReclaimPacing { gather_window, kvfree_backlog_hard: self.kvfree_hard.load(Ordering::Relaxed) }
    }

    /// Asks the reclaim thread to complete `cookie`. Never blocks. The
    /// caller has started the thread.
    pub(crate) fn request_gp(&self, parts: Parts<'_>, cookie: GpState) {
        // SeqCst: the producer's half of the store-buffering pair with
        // `idle` (its SeqCst `sleeping` store, then this SeqCst load of
        // `requested`); the wake below loads `sleeping`.
        self.requested.fetch_max(cookie.seq(), Ordering::SeqCst);
        parts.defer.wake.wake_unless_awake();
    }

    /// Whether the thread runs in this process.
    #[inline]
    pub(crate) fn is_started(&self) -> bool {
        // Acquire pairs with the Release store after a successful spawn.
        self.started.load(Ordering::Acquire)
    }

    /// The thread's `pthread_t` (0 before it starts).
    pub(crate) fn pthread(&self) -> u64 {
        if !self.is_started() {
            return 0;
        }
        // Relaxed: ordered by the Acquire in `is_started`.
        self.pthread.load(Ordering::Relaxed)
    }

    /// Starts the thread (named after `flavour`) running `run`, unless it
    /// runs already.
    #[cold]
    pub(crate) fn start(&self, flavour: &'static str, run: impl FnOnce() + Send + 'static) {
        let _g = self.start_lock.lock();
        // Relaxed: under the start lock, which orders it with the store below.
        if !self.started.load(Ordering::Relaxed) {
            let handle = std::thread::Builder::new()
                .name(format!("rcu-{flavour}-reclaim"))
                .spawn(run)
                .unwrap_or_else(|e| panic!("rcu_{flavour}: cannot start the reclaim thread: {e}"));
            use std::os::unix::thread::JoinHandleExt;
            // Relaxed: published by the Release store of `started` below.
            self.pthread.store(handle.as_pthread_t() as u64, Ordering::Relaxed);
            // Release pairs with the Acquire load in `is_started`.
            self.started.store(true, Ordering::Release);
        }
    }

    /// The callback counters, into `stats`.
    pub(crate) fn report(&self, stats: &mut Stats) {
        // Relaxed everywhere: statistics, not synchronisation. rcu_barrier
        // markers travel through the queue too; they are not counted.
        // `queued` lags behind by the producers' residuals (module docs,
        // "Counting"): a callback invoked was queued.
        let barriers = self.barriers.load(Ordering::Relaxed);
        let invoked = self.invoked.load(Ordering::Relaxed);
        let queued = self.queued.load(Ordering::Relaxed).max(invoked).saturating_sub(barriers);
        let invoked = invoked.saturating_sub(barriers).min(queued);
        stats.callbacks_queued = queued;
        stats.callbacks_invoked = invoked;
        stats.callback_batches = self.batches.load(Ordering::Relaxed);
        stats.largest_callback_batch = self.largest_batch.load(Ordering::Relaxed);
        stats.callback_backlog = queued - invoked;
        stats.peak_callback_backlog = self.peak_backlog.load(Ordering::Relaxed);
        stats.callback_panics = self.panics.load(Ordering::Relaxed);
        stats.barriers = barriers;
    }
}
