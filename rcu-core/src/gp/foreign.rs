//! Foreign readers: threads that announce themselves in reader words laid
//! out by code outside this crate (liburcu's `struct urcu_reader` and
//! `struct urcu_gp`, for the C ABI in `rcu-capi`), under the same
//! [`Protocol`] as the engine's own slots.
//!
//! Three things differ from the slots of `reader/`, all fixed by liburcu's
//! inline read side, which a C program compiled with `_LGPL_SOURCE` carries
//! in its own code:
//!
//! * the global counter is the foreign one ([`ForeignGp::ctr`], liburcu's
//!   `urcu_*_gp.ctr`), which this module's grace periods advance;
//! * the reader words live in the foreign threads' TLS, so a registry lock
//!   (held by a scan, dropped while it sleeps) keeps a thread from freeing
//!   its word under a scan: unregistration takes the lock;
//! * a writer sleeps on one shared futex word ([`ForeignGp::futex`]), with
//!   the shared (non-private) futex operations liburcu's readers use:
//!
//! ```text
//! writer (wait_for_old)                 reader (outermost unlock, QS, offline)
//!   futex = -1                            ctr = inactive / current
//!   [QSBR: fence(Release); waiting = 1]   barrier (memb: compiler only)
//!   writer barrier ─── pairs with ──────  [QSBR: if waiting { waiting = 0; fence }]
//!   re-read every ctr                     if futex == -1 { futex = 0; FUTEX_WAKE }
//!   FUTEX_WAIT(futex, -1)
//! ```
//!
//! Either the writer sees the reader done, or the reader sees the -1 (QSBR:
//! the `waiting` flag, and after it the -1 stored before it) and wakes the
//! writer. Any reader's wake-up makes the writer scan again: one shared word
//! costs spurious wake-ups (see `reader/wait.rs` for why the engine's own
//! slots each have their own), but it is the protocol the inline code speaks.
//!
//! C programs enter sections from signal handlers, and a section may
//! register its thread (liburcu-bp's always may; rcu-capi registers a
//! thread on its first function-ABI section). A handler that interrupted
//! its own thread while that thread held the registry lock would wait for
//! it forever. Two answers: a thread that holds the registry says so in a
//! thread-local count ([`ForeignReaders::held_by_this_thread`]), so a
//! registration that may be skipped (a lazy one) is; and for readers that
//! must register from handlers (bp), the registry is held only with every
//! signal blocked ([`SignalsBlocked`], as liburcu-bp does), so no handler
//! runs while it is held.
//!
//! Two of liburcu's flavours speak the PhaseFlip protocol with a difference
//! ([`ForeignStyle`]): mb readers pay a full fence where memb readers pay a
//! compiler barrier, so the writer's B1/B2 are fences, not membarrier
//! ([`ForeignStyle::fenced_readers`]); bp readers never touch the futex
//! word (liburcu-bp's writer polls), so a writer that has spun in vain
//! sleeps a bounded time and scans again ([`ForeignStyle::bulletproof`]).

use crate::gp::grace_period::{run_protocol, writer_barrier};
use crate::reader::{Protocol, ReaderState};
use crate::stall::{StallReporter, StallWatch};
use crate::sync::atomic::{compiler_fence, fence, AtomicI32, AtomicU32, AtomicU64, Ordering};
use crate::sync::spin_hint;
use crate::sys::lock::{ForkSafeMutex, Guard};
use crate::sys::SignalsBlocked;
use std::ptr::NonNull;

/// liburcu's `struct urcu_gp`: the global counter and the futex word a
/// writer sleeps on (the C side aligns it to a cache line).
#[repr(C)]
#[derive(Debug)]
pub struct ForeignGp {
    /// The global counter, in the protocol's encoding.
    pub ctr: AtomicU64,
    /// -1 while a writer sleeps (or is about to), else 0.
    pub futex: AtomicI32,
}

impl ForeignGp {
    /// The initial state for `protocol` (liburcu's static initialiser).
    pub const fn new(protocol: Protocol) -> Self {
        ForeignGp { ctr: AtomicU64::new(protocol.initial_gp_ctr()), futex: AtomicI32::new(0) }
    }
}

/// One registered foreign reader: pointers into its thread's TLS.
#[derive(Copy, Clone, Debug)]
pub struct ForeignReader {
    /// Its reader word (liburcu's `ctr`), written only by its thread.
    pub ctr: NonNull<AtomicU64>,
    /// QSBR's `waiting` flag (liburcu's `urcu_qsbr_reader.waiting`); `None`
    /// for memb, whose readers test the futex word directly.
    pub waiting: Option<NonNull<AtomicI32>>,
    /// Kernel thread id, for stall warnings.
    pub tid: u64,
}

// SAFETY: the pointers are to atomics, which any thread may access; that
// they stay valid while registered is `ForeignReaders::register`'s contract.
unsafe impl Send for ForeignReader {}

impl ForeignReader {
    fn word(&self) -> u64 {
        // SAFETY: registered readers' words are valid until unregistered,
        // which waits for the registry lock our caller holds.
        // Relaxed: ordering comes from the barriers around the scan
        // (`gp/grace_period.rs`).
        unsafe { self.ctr.as_ref() }.load(Ordering::Relaxed)
    }
}

/// Spin rounds before a writer sleeps (liburcu's `RCU_QS_ACTIVE_ATTEMPTS`).
const ACTIVE_ATTEMPTS: u32 = 100;

/// How a flavour's foreign readers pair with its writer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ForeignStyle {
    /// Readers issue a full fence where memb's issue a compiler barrier
    /// (liburcu's mb flavour): the writer's B1/B2 and its barrier before
    /// sleeping are then fences, and no membarrier is needed.
    pub readers_fence: bool,
    /// Readers wake a sleeping writer through the futex word; when not
    /// (liburcu-bp), the writer sleeps a millisecond at a time (`POLL_SLEEP`).
    pub futex: bool,
    /// Readers register from signal handlers, and must succeed there: the
    /// registry is held only with every signal blocked (module docs).
    pub register_in_handlers: bool,
}

impl ForeignStyle {
    /// memb and QSBR: light (membarrier-paired) readers that wake the writer.
    pub const STANDARD: ForeignStyle = ForeignStyle { readers_fence: false, futex: true, register_in_handlers: false };

    /// liburcu's mb flavour: readers fence themselves and wake the writer.
    pub const fn fenced_readers() -> Self {
        ForeignStyle { readers_fence: true, ..Self::STANDARD }
    }

    /// liburcu's bp flavour: light readers that never wake the writer and
    /// register wherever their first section is, signal handlers included.
    pub const fn bulletproof() -> Self {
        ForeignStyle { readers_fence: false, futex: false, register_in_handlers: true }
    }
}

std::thread_local! {
    /// How many foreign registry locks this thread holds or is taking
    /// (module docs): a count, since a handler may take another flavour's
    /// registry while its thread holds one. `const`, without destructor:
    /// readable in a signal handler and while the thread's thread-locals are
    /// torn down. An atomic, with compiler fences around the lock, so that
    /// the compiler neither delays nor drops a store only a handler reads.
    static HOLDS_REGISTRY: AtomicU32 = const { AtomicU32::new(0) };
}

/// How long a writer waiting for a reader that never wakes it (bp) sleeps
/// between scans. liburcu-bp polls every 10 ms; a shorter sleep costs a
/// waiting writer a few more scans and saves its callers up to 9 ms.
pub(crate) const POLL_SLEEP: std::time::Duration = std::time::Duration::from_millis(1);

/// The foreign readers of one flavour, their global counter and futex.
pub struct ForeignReaders {
    /// Where the counter and futex live. A function, called each time:
    /// an executable's copy relocation may move the C object at load time,
    /// and only the C side's own (interposable) reference finds it.
    gp: fn() -> &'static ForeignGp,
    /// The calling thread's reader word, if it is registered.
    current: fn() -> Option<&'static AtomicU64>,
    style: ForeignStyle,
    readers: ForkSafeMutex<Vec<ForeignReader>>,
}

impl std::fmt::Debug for ForeignReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignReaders").finish_non_exhaustive()
    }
}

impl ForeignReaders {
    /// A registry with no reader; `gp` finds the counter and futex,
    /// `current` the calling thread's reader word if registered.
    pub const fn new(gp: fn() -> &'static ForeignGp, current: fn() -> Option<&'static AtomicU64>) -> Self {
        Self::with_style(gp, current, ForeignStyle::STANDARD)
    }

    /// As [`Self::new`], for readers of another [`ForeignStyle`].
    pub const fn with_style(
        gp: fn() -> &'static ForeignGp,
        current: fn() -> Option<&'static AtomicU64>,
        style: ForeignStyle,
    ) -> Self {
        ForeignReaders { gp, current, style, readers: ForkSafeMutex::new(Vec::new()) }
    }

    /// The writer's half of B1/B2 and of the pair before it sleeps: the
    /// heavy barrier against light readers, a fence against fenced ones.
    fn writer_barrier(&self, protocol: Protocol) -> fn() {
        if self.style.readers_fence {
            full_fence
        } else {
            writer_barrier(protocol)
        }
    }

    /// The counter and futex.
    pub fn gp(&self) -> &'static ForeignGp {
        (self.gp)()
    }

    /// The registry, locked: with every signal blocked if readers register
    /// in handlers, and counted in this thread's `HOLDS_REGISTRY` while
    /// held (module docs).
    fn lock(&self) -> Held<'_> {
        let signals = self.style.register_in_handlers.then(SignalsBlocked::new);
        Held { locked: self.lock_unblocked(), _signals: signals }
    }

    /// The registry, locked, signals as they are (for `wait_for_old`,
    /// which blocks them itself where needed).
    fn lock_unblocked(&self) -> Locked<'_> {
        // Counted before taking the lock and counted out after releasing it,
        // so that a handler running at any instant in between sees it.
        // Relaxed: read only by this thread and its handlers; the compiler
        // fence keeps the store before the lock (a handler runs on this
        // thread, so no hardware fence is needed). A load and a store, not
        // an atomic add: a handler that interrupts them takes and releases
        // whole locks, leaving the count as it found it.
        HOLDS_REGISTRY.with(|h| h.store(h.load(Ordering::Relaxed) + 1, Ordering::Relaxed));
        compiler_fence(Ordering::SeqCst);
        Locked { readers: self.readers.lock(), _holds: HoldsRegistry }
    }

    /// Whether the calling thread holds a foreign registry's lock: true
    /// only in a signal handler that interrupted it there. A registration
    /// made now would wait for its own thread forever; a caller that can
    /// do without one (rcu-capi's lazy registration) skips it.
    pub fn held_by_this_thread() -> bool {
        // Relaxed: this thread's own count (see `lock_unblocked`).
        HOLDS_REGISTRY.with(|h| h.load(Ordering::Relaxed)) != 0
    }

    /// Room for `n` readers, reserved now (the library constructor) so that
    /// registrations up to that many do not allocate: a first section may
    /// run in a signal handler that interrupted `malloc`.
    pub fn reserve(&self, n: usize) {
        self.lock().locked.readers.reserve(n);
    }

    /// Adds a reader. Registering one word twice is a no-op.
    ///
    /// # Safety
    ///
    /// `reader`'s pointers must stay valid until [`Self::unregister`] of
    /// the same word returns (a thread unregisters before its TLS goes).
    pub unsafe fn register(&self, reader: ForeignReader) {
        let mut held = self.lock();
        let readers = &mut held.locked.readers;
        if !readers.iter().any(|r| r.ctr == reader.ctr) {
            readers.push(reader);
        }
    }

    /// Removes the reader whose word is `ctr`; returns whether it was
    /// registered. Waits for a scan in progress (not for its sleep).
    pub fn unregister(&self, ctr: NonNull<AtomicU64>) -> bool {
        let mut held = self.lock();
        let readers = &mut held.locked.readers;
        let before = readers.len();
        readers.retain(|r| r.ctr != ctr);
        readers.len() != before
    }

    /// How many readers are registered (for tests and diagnostics; stale
    /// as soon as it returns).
    pub fn len(&self) -> usize {
        self.lock().locked.readers.len()
    }

    /// Whether no reader is registered (as [`Self::len`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the calling thread may wait for a grace period (see
    /// [`Protocol::may_block`]).
    pub fn may_block(&self, protocol: Protocol) -> bool {
        // Relaxed: the thread reads its own word.
        (self.current)().is_none_or(|w| protocol.may_block(w.load(Ordering::Relaxed)))
    }

    /// Whether no foreign reader can be inside a section that began before
    /// the call (the counterpart of `grace_period::no_reader_to_wait_for`):
    /// memb, none registered; QSBR, all offline.
    pub(crate) fn no_reader_to_wait_for(&self, protocol: Protocol) -> bool {
        // Memb: registration takes the lock, so a thread registered after
        // this check runs its sections after the caller's unpublish (the
        // lock orders them). QSBR: the fence pairs with the fence after a
        // reader's online store (liburcu's `thread_online`), as in
        // `grace_period::no_reader_to_wait_for`.
        fence(Ordering::SeqCst);
        let held = self.lock();
        let readers = &held.locked.readers;
        let idle = match protocol {
            Protocol::PhaseFlip => readers.is_empty(),
            Protocol::Increment => readers.iter().all(|r| r.word() == crate::reader::qsbr::OFFLINE),
        };
        drop(held);
        if idle {
            // Orders the loads above before the caller's frees; pairs with
            // the fence before a reader's offline store.
            fence(Ordering::SeqCst);
        }
        idle
    }

    /// Runs one grace period over the foreign readers.
    ///
    /// # Safety
    ///
    /// The caller must be the foreign counter's only writer (it holds the
    /// engine's running state, as for `GpCounter::run`).
    pub(crate) unsafe fn run(&self, protocol: Protocol, stall: &StallReporter<'_>) {
        // SAFETY: forwarded contract.
        unsafe {
            run_protocol(protocol, &self.gp().ctr, self.writer_barrier(protocol), |gp| {
                self.wait_for_old(protocol, gp, stall)
            })
        };
    }

    /// Returns once no registered reader is `ActiveOld` against `gp`: spins,
    /// then sleeps on the shared futex (the module docs' protocol).
    /// Where readers register in handlers, signals stay blocked through the
    /// spins (one pair of system calls, not one per scan) and are unblocked
    /// while it sleeps, so that a long wait never keeps the thread from its
    /// signals.
    fn wait_for_old(&self, protocol: Protocol, gp: u64, stall: &StallReporter<'_>) {
        let shared = self.gp();
        let barrier = self.writer_barrier(protocol);
        let futex = self.style.futex;
        let mut attempts = 0u32;
        let mut watch: Option<(u64, StallWatch<'_>)> = None;
        let mut signals = None;
        loop {
            let sleeping = attempts >= ACTIVE_ATTEMPTS;
            if self.style.register_in_handlers && signals.is_none() {
                signals = Some(SignalsBlocked::new());
            }
            let locked = self.lock_unblocked();
            if sleeping && futex {
                announce_sleep(shared, &locked.readers, protocol);
                barrier();
            }
            let old =
                locked.readers.iter().find(|r| protocol.reader_state(r.word(), gp) == ReaderState::ActiveOld).copied();
            drop(locked);
            let Some(old) = old else {
                if sleeping && futex {
                    // Relaxed: only spares later unlocks a wake-up; this
                    // writer waits no more.
                    shared.futex.store(0, Ordering::Relaxed);
                }
                return;
            };
            attempts = attempts.saturating_add(1);
            if !sleeping {
                spin_hint();
                continue;
            }
            if watch.as_ref().is_none_or(|(tid, _)| *tid != old.tid) {
                watch = Some((old.tid, stall.watch(old.tid)));
            }
            let budget = watch.as_mut().and_then(|(_, w)| w.sleep_budget());
            drop(signals.take());
            if futex {
                // Returns at once if a reader already reset the word to 0 (it
                // saw our -1 and woke us), at a wake-up, or when a stall
                // warning is due; the loop re-scans either way.
                crate::sys::futex_wait_shared(&shared.futex, -1, budget);
            } else {
                // No reader will wake us: sleep a little and scan again. The
                // registry lock is not held, so readers may come and go.
                std::thread::sleep(budget.map_or(POLL_SLEEP, |b| b.min(POLL_SLEEP)));
            }
        }
    }

    /// `fork()` support: the registry lock is held across the fork.
    pub(crate) fn lock_for_fork(&self) {
        self.readers.raw_lock();
    }

    /// `fork()` support, parent side.
    pub(crate) fn unlock_after_fork_parent(&self) {
        // SAFETY: taken by `lock_for_fork` on this thread before the fork.
        unsafe { self.readers.raw_unlock() };
    }

    /// `fork()` support, child side: only the forking thread survives, so
    /// only its reader stays registered (the others' TLS is gone).
    pub(crate) fn reset_after_fork_child(&self) {
        let own = (self.current)().map(NonNull::from);
        // SAFETY: the lock is held (taken by `lock_for_fork` before the
        // fork); the child is single-threaded here.
        let readers = unsafe { &mut *self.readers.value_ptr() };
        readers.retain(|r| Some(r.ctr) == own);
        // Relaxed: single-threaded child; no writer sleeps in it.
        self.gp().futex.store(0, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { self.readers.raw_unlock() };
    }
}

/// The registry, locked. Fields drop in order: unlock, then count the
/// thread out.
struct Locked<'a> {
    readers: Guard<'a, Vec<ForeignReader>>,
    _holds: HoldsRegistry,
}

/// The registry, locked with signals blocked where readers register in
/// handlers: unlocked before the signals are unblocked (field order). A
/// scan's spins use `Locked` alone and block signals once around them.
struct Held<'a> {
    locked: Locked<'a>,
    _signals: Option<SignalsBlocked>,
}

/// Counts one lock out of `HOLDS_REGISTRY` when dropped (after the lock
/// is released).
struct HoldsRegistry;

impl Drop for HoldsRegistry {
    fn drop(&mut self) {
        // The unlock before the count goes down, as a handler sees them
        // (`lock_unblocked`).
        compiler_fence(Ordering::SeqCst);
        // Relaxed, a load and a store: as in `lock_unblocked`.
        HOLDS_REGISTRY.with(|h| h.store(h.load(Ordering::Relaxed) - 1, Ordering::Relaxed));
    }
}

/// A full fence, as the writer's barrier against readers that fence
/// themselves (pairs with each of their fences as memb's heavy barrier pairs
/// with its readers' compiler barriers).
fn full_fence() {
    fence(Ordering::SeqCst);
}

/// Before sleeping: the futex word to -1 and, for QSBR, every reader's
/// `waiting` flag (liburcu's QSBR readers test the flag before the word).
fn announce_sleep(shared: &ForeignGp, readers: &[ForeignReader], protocol: Protocol) {
    // Relaxed: ordered before the reader-word loads by the caller's writer
    // barrier, which pairs with the reader's barrier between its word store
    // and its futex load (module docs).
    shared.futex.store(-1, Ordering::Relaxed);
    if protocol == Protocol::Increment {
        // Orders the -1 before the flags: a reader that sees a flag and then
        // issues its fence sees the -1 too (liburcu's `cmm_smp_wmb`).
        fence(Ordering::Release);
        for r in readers {
            if let Some(waiting) = r.waiting {
                // SAFETY: valid while registered; the caller holds the lock.
                // Relaxed: ordered by the fence above and the writer barrier.
                unsafe { waiting.as_ref() }.store(1, Ordering::Relaxed);
            }
        }
    }
}
