//! The engine of one flavour: registry, global counter, grace-period
//! sequence, reclaim thread and statistics, tied together.
//!
//! Each flavour crate owns one `static Engine<ItsFlavour>`; everything here is
//! generic over the flavour ([`FlavourLocals`]) and shared by both.

use crate::defer::callback::{CallbackFn, RcuHead};
use crate::defer::deferrals::Deferrals;
use crate::defer::slot::DeferSlot;
use crate::gp::grace_period::GpCounter;
use crate::gp::sequence::{GpSequence, GpState};
use crate::kvfree::{AfterAppend, Kvfree, RcuFree};
use crate::reader::registry::Registry;
use crate::reader::ReaderSlot;
use crate::reader::{ReaderSlotPtr, SlotPtr};
use crate::reclaim::{CallbackLimits, Parts, Reclaimer};
use crate::stall::StallReporter;
use crate::stats::{StatCounters, Stats};
use crate::sys::lock::ForkSafeMutex;
use crate::thread::FlavourLocals;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Everything one flavour shares across threads.
pub struct Engine<F: FlavourLocals> {
    registry: Registry,
    counter: GpCounter,
    sequence: GpSequence,
    /// The deferral slots, the shared callback queue and the doorbell.
    defer: Deferrals,
    reclaimer: Reclaimer,
    kvfree: Kvfree,
    stats: StatCounters,
    /// One-time set-up done (see `init`).
    initialized: AtomicBool,
    /// 0: fork handlers not registered, 1: being registered, 2: registered.
    fork_handlers: AtomicU8,
    /// Held during set-up; taken by the fork handlers too, so a child never
    /// inherits it held.
    init_lock: ForkSafeMutex<()>,
    _flavour: PhantomData<F>,
}

impl<F: FlavourLocals> std::fmt::Debug for Engine<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("flavour", &F::NAME).field("registry", &self.registry).finish_non_exhaustive()
    }
}

impl<F: FlavourLocals> Engine<F> {
    /// A fresh engine, for the flavour crate's one `static`.
    ///
    /// # Safety
    ///
    /// Create exactly one, as the `static` that `F::engine()` returns: the
    /// engine writes the flavour's thread-locals, which belong to that one.
    pub const unsafe fn new() -> Self {
        Engine {
            registry: Registry::new(),
            counter: GpCounter::new(F::PROTOCOL),
            // Followers spin only where grace periods send no IPIs (see
            // `GpSequence::spin_while_led`).
            sequence: GpSequence::new(match F::PROTOCOL {
                crate::reader::Protocol::Increment => crate::gp::sequence::FOLLOWER_SPINS,
                crate::reader::Protocol::PhaseFlip => 0,
            }),
            defer: Deferrals::new(),
            reclaimer: Reclaimer::new(),
            kvfree: Kvfree::new(),
            stats: StatCounters::new(),
            initialized: AtomicBool::new(false),
            fork_handlers: AtomicU8::new(0),
            init_lock: ForkSafeMutex::new(()),
            _flavour: PhantomData,
        }
    }

    /// The reader-visible global counter and waker (reader fast paths).
    #[inline]
    pub fn counter(&self) -> &GpCounter {
        &self.counter
    }

    /// The grace-period sequence (cookies and polling).
    pub fn sequence(&self) -> &GpSequence {
        &self.sequence
    }

    /// One-time set-up: the fork handlers, then the barrier strategy. The
    /// handlers are registered before anything else is done, so a `fork()`
    /// racing with the set-up runs them, and they wait for it to finish
    /// (a `std::sync::Once` caught mid-call would hang the child).
    #[inline]
    pub(crate) fn init(&'static self) {
        // Acquire pairs with the Release store in `init_slow`.
        if !self.initialized.load(Ordering::Acquire) {
            self.init_slow();
        }
    }

    #[cold]
    fn init_slow(&'static self) {
        // AcqRel/Acquire: the registering thread publishes "registered"
        // with Release; latecomers wait for it before taking the lock.
        match self.fork_handlers.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                F::register_fork_handlers();
                self.fork_handlers.store(2, Ordering::Release);
            }
            Err(_) => {
                let backoff = crossbeam_utils::Backoff::new();
                while self.fork_handlers.load(Ordering::Acquire) != 2 {
                    backoff.snooze();
                }
            }
        }
        let _g = self.init_lock.lock();
        if !self.initialized.load(Ordering::Relaxed) {
            crate::sys::init();
            // Release pairs with the Acquire load in `init`.
            self.initialized.store(true, Ordering::Release);
        }
    }

    // ----- registration -------------------------------------------------

    /// The calling thread's slot, if it is registered.
    #[inline]
    pub fn current_slot(&self) -> Option<&'static ReaderSlot> {
        F::slot_key().with(ReaderSlotPtr::get)
    }

    /// Registers the calling thread (idempotent) and returns its slot.
    #[cold]
    #[inline(never)]
    pub fn register_current(&'static self) -> &'static ReaderSlot {
        if let Some(slot) = self.current_slot() {
            return slot;
        }
        self.init();
        let slot = self.registry.claim();
        // Relaxed: owner-only diagnostics, published with the claim.
        slot.tid.store(crate::sys::gettid(), Ordering::Relaxed);
        let permanent = F::thread_key().try_with(|st| st.set_registered(true)).is_ok();
        slot.set_transient(!permanent);
        F::slot_key().with(|c| c.set(slot));
        // Orders the claim before this thread's first read-side loads; pairs
        // with the fence before the empty-registry check in
        // `run_grace_period` (a grace period that saw no claimed slot must
        // not miss a reader that registered after it looked).
        crate::sync::atomic::fence(Ordering::SeqCst);
        slot
    }

    /// Unregisters the calling thread (no-op if unregistered).
    ///
    /// # Panics
    ///
    /// Inside a read-side critical section (memb) or while online (QSBR):
    /// the section would lose its protection.
    pub fn unregister_current(&self) {
        if let Some(slot) = self.current_slot() {
            assert!(
                F::PROTOCOL.may_block(slot.word()),
                "rcu_{}: unregister_thread() called inside a read-side critical section; \
                 drop every guard (or go offline) before unregistering",
                F::NAME
            );
            // The destructor may already be running (then try_with fails,
            // and there is nothing left to mark).
            let _ = F::thread_key().try_with(|st| st.set_registered(false));
            // SAFETY: checked just above that no section is open; the
            // flavour's handle (if any) is being dropped by the caller.
            unsafe { self.release_current_slot() };
        }
    }

    /// Returns the calling thread's slot to the registry (unregistration,
    /// or a transient slot whose outermost section ended).
    ///
    /// # Safety
    ///
    /// The calling thread must not be inside a read-side section (memb) or
    /// online (QSBR), and must not use the slot afterwards (no live guard).
    pub unsafe fn release_current_slot(&self) {
        if let Some(slot) = F::slot_key().with(ReaderSlotPtr::take) {
            self.registry.release_reader(slot);
        }
    }

    /// Thread exit (the thread state's destructor): release the slot, unless
    /// a guard or handle stored in another thread-local still uses it; then
    /// mark it transient for that guard or handle to release.
    pub(crate) fn thread_exit(&self, handle_alive: bool) {
        let Some(slot) = self.current_slot() else { return };
        if handle_alive || !F::PROTOCOL.may_block(slot.word()) {
            slot.set_transient(true);
            return;
        }
        // SAFETY: quiescent and no handle: nothing uses the slot any more.
        unsafe { self.release_current_slot() };
    }

    /// Records that a registration handle (QSBR's `QsbrThread`) owns the
    /// calling thread's slot (`true`) or has released it (`false`).
    pub fn set_handle_alive(&self, alive: bool) {
        let _ = F::thread_key().try_with(|st| st.set_handle_alive(alive));
    }

    /// Whether the calling thread may block for a grace period: not inside
    /// a read-side section (memb), not online (QSBR).
    #[inline]
    pub fn may_block(&self) -> bool {
        // Relaxed: the thread reads its own word.
        self.current_slot().is_none_or(|s| F::PROTOCOL.may_block(s.word()))
    }

    /// Panics with a message naming `what` if the calling thread may not
    /// block (see [`Engine::may_block`]): waiting for a grace period there
    /// would wait for the caller itself, forever.
    #[inline]
    #[track_caller]
    pub fn assert_may_block(&self, what: &str) {
        if !self.may_block() {
            misuse_blocking::<F>(what);
        }
    }

    // ----- grace periods ------------------------------------------------

    /// Whether no reader can be inside a section that began before this
    /// call (see `grace_period::no_reader_to_wait_for`).
    fn no_reader_to_wait_for(&self) -> bool {
        crate::gp::grace_period::no_reader_to_wait_for(F::PROTOCOL, self.registry.slots())
    }

    /// Runs one grace period (the caller holds the sequence's running state).
    fn run_grace_period(&self) {
        if self.no_reader_to_wait_for() {
            return;
        }
        let state = match F::PROTOCOL {
            crate::reader::Protocol::PhaseFlip => "inside a read-side section",
            crate::reader::Protocol::Increment => "online without a quiescent state",
        };
        let stall = StallReporter::new(F::NAME, state, &self.stats.stall_warnings);
        // SAFETY: called only by a thread that holds the sequence's odd
        // "running" state (`GpSequence::run_one`, `complete_if_idle`), which
        // one thread at a time can take, so it is the counter's only writer.
        unsafe { self.counter.run(F::PROTOCOL, || self.registry.slots(), &stall) };
    }

    /// Waits for a grace period: every read-side critical section that began
    /// before the call has ended when it returns. Shared with concurrent
    /// callers. May block.
    #[track_caller]
    pub fn synchronize(&'static self) {
        self.assert_may_block("synchronize_rcu()");
        self.init();
        // Nothing to wait for, nothing paid: no barrier, futex or lock when
        // no reader could hold up a grace period (liburcu checks for an
        // empty registry too). Completed as an empty grace period, so
        // cookies taken earlier (`get_state_synchronize_rcu`) are satisfied.
        let seems_idle = || crate::gp::grace_period::no_reader_seen(F::PROTOCOL, self.registry.slots());
        if self.sequence.complete_if_idle(seems_idle, || self.no_reader_to_wait_for(), &|| self.run_grace_period()) {
            // Relaxed: a statistic (one counter per call: `stats()` adds
            // these to `synchronize_calls`).
            self.stats.synchronize_without_readers.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Relaxed: a statistic.
        self.stats.synchronize_calls.fetch_add(1, Ordering::Relaxed);
        self.wait_for(self.sequence.snapshot());
    }

    /// Blocks until `cookie` is reached, leading grace periods if needed.
    /// The caller must be allowed to block (checked by callers).
    pub(crate) fn wait_for(&'static self, cookie: GpState) {
        // Every grace period runs with the barrier strategy decided.
        self.init();
        self.sequence.wait_for(cookie, || self.run_grace_period());
    }

    /// A cookie for a grace period that starts after this call, which the
    /// reclaim thread is asked to run. Never blocks.
    pub fn start_poll(&'static self) -> GpState {
        self.init();
        let cookie = self.sequence.snapshot();
        self.ensure_reclaim_thread();
        self.reclaimer.request_gp(self.parts(), cookie);
        cookie
    }

    /// Whether `cookie`'s grace period has completed. One load, never blocks.
    #[inline]
    pub fn poll(&self, cookie: GpState) -> bool {
        self.sequence.poll(cookie)
    }

    /// Waits for `cookie` unless it has completed already.
    #[track_caller]
    pub fn cond_synchronize(&'static self, cookie: GpState) {
        if !self.poll(cookie) {
            self.assert_may_block("cond_synchronize_rcu()");
            self.init();
            self.wait_for(cookie);
        }
    }

    // ----- deferred callbacks -------------------------------------------

    /// Runs `callback` on the reclaim thread after a grace period. A
    /// recycled slot or one allocation (see `callback.rs`); never waits for a grace period (past the hard backlog
    /// limit, a caller that may block waits for reclaim: see
    /// [`CallbackLimits`]).
    #[inline]
    #[track_caller]
    pub fn call_rcu<C: FnOnce() + Send + 'static>(&'static self, callback: C) {
        let (head, func) = crate::defer::callback::box_callback(callback, std::panic::Location::caller());
        // SAFETY: the head is a fresh box owned by the queue until `func`
        // (which frees it) runs.
        unsafe { self.enqueue(head, func) };
    }

    /// Runs `func(head)` on the reclaim thread after a grace period. No
    /// allocation.
    ///
    /// # Safety
    ///
    /// `head` must be valid, not queued already, and stay in place (not
    /// moved, not freed, not reused) until `func` runs; `func(head)` must be
    /// sound to call on the reclaim thread (what it touches must be `Send`).
    #[inline]
    pub unsafe fn call_rcu_raw(&'static self, head: NonNull<RcuHead>, func: CallbackFn) {
        // SAFETY: forwarded contract.
        unsafe { self.enqueue(head, func) };
    }

    /// Queues `head`/`func` on the calling thread's deferral slot (claimed
    /// now if it has none) and counts it.
    ///
    /// # Safety
    ///
    /// As [`Engine::call_rcu_raw`].
    #[inline]
    unsafe fn enqueue(&'static self, head: NonNull<RcuHead>, func: CallbackFn) {
        self.ensure_reclaim_thread();
        let slot = F::defer_key().with(SlotPtr::get).or_else(|| self.register_defer_slot());
        // SAFETY: forwarded contract; `slot` is the calling thread's.
        unsafe { self.reclaimer.enqueue(self.parts(), slot, head, func, || self.may_block()) };
    }

    /// Waits until every callback queued before the call (by any thread)
    /// has run. See `reclaim.rs` for callbacks queued by callbacks.
    ///
    /// # Panics
    ///
    /// Where the caller may not block (see [`Engine::assert_may_block`]), and
    /// from a callback (on the reclaim thread).
    #[track_caller]
    pub fn barrier(&'static self) {
        self.assert_may_block("rcu_barrier()");
        if crate::reclaim::in_reclaim_thread() {
            barrier_in_callback::<F>();
        }
        self.ensure_reclaim_thread();
        self.reclaimer.barrier(self.parts());
    }

    /// Sets the `call_rcu` backlog thresholds.
    ///
    /// # Panics
    ///
    /// If `limits.soft > limits.hard`.
    pub fn set_callback_limits(&self, limits: CallbackLimits) {
        self.reclaimer.set_limits(limits);
    }

    /// The `call_rcu` backlog thresholds in force.
    pub fn callback_limits(&self) -> CallbackLimits {
        self.reclaimer.limits()
    }

    // ----- kvfree ---------------------------------------------------------

    /// Drops `object` after a grace period, without a head inside it and
    /// without allocating per object (see `kvfree/`). Never blocks unless
    /// memory is exhausted and the caller may block (then it waits for one
    /// grace period and drops inline), or the backlog is past the hard limit.
    #[inline]
    pub fn kvfree<P: RcuFree>(&'static self, object: P) {
        let entry = object.into_entry();
        match F::defer_key().with(SlotPtr::get) {
            Some(slot) => self.kvfree_append(slot, &entry),
            None => self.kvfree_unregistered(entry),
        }
    }

    #[inline(always)]
    fn kvfree_append(&'static self, slot: &'static DeferSlot, entry: &crate::kvfree::Entry) {
        let words = (entry.drop, &entry.words[..entry.arity], entry.held);
        let after = self.kvfree.append(slot, &self.sequence, || self.may_block(), F::NAME, words);
        if !after.is_done() {
            self.after_kvfree_slow_path(after);
        }
    }

    /// What the append's slow path reported: arm the drain timer, note a
    /// seal (and wait for reclaim past the hard limit), or drop the object
    /// inline after a grace period (no block could be had).
    #[cold]
    #[inline(never)]
    fn after_kvfree_slow_path(&'static self, after: AfterAppend) {
        if after.dirtied || after.sealed {
            self.ensure_reclaim_thread();
        }
        if after.dirtied {
            self.defer.wake.wake_for_timer();
        }
        if after.sealed && self.reclaimer.note_sealed(self.parts()) {
            self.reclaimer.throttle_if_allowed(self.parts(), self.may_block());
        }
        if let Some((drop, entry)) = after.drop_after_gp {
            self.synchronize();
            // SAFETY: the entry was never stored; a grace period has
            // elapsed since the caller unpublished the object.
            unsafe { drop(entry.as_ptr()) };
        }
    }

    #[cold]
    #[inline(never)]
    fn kvfree_unregistered(&'static self, entry: crate::kvfree::Entry) {
        if let Some(slot) = self.register_defer_slot() {
            return self.kvfree_append(slot, &entry);
        }
        // The thread's destructors already ran (a call from another
        // thread-local's destructor): no slot could be released at exit, so
        // take the allocating path once.
        struct Deferred(crate::kvfree::Entry);
        // SAFETY: the entry came from an `RcuFree` value, which is Send.
        unsafe impl Send for Deferred {}
        let deferred = Deferred(entry);
        self.call_rcu(move || {
            let d = deferred;
            // SAFETY: the entry is dropped once, after a grace period.
            unsafe { (d.0.drop)(d.0.words.as_ptr()) };
        });
    }

    /// Claims a deferral slot for the calling thread, unless its thread-local
    /// destructors already ran.
    fn register_defer_slot(&'static self) -> Option<&'static DeferSlot> {
        self.init();
        F::thread_key().try_with(|st| st.set_defer_registered()).ok()?;
        let slot = self.defer.claim_slot();
        F::defer_key().with(|c| c.set(slot));
        Some(slot)
    }

    /// Thread exit: hand the callback list over, seal the partial block and
    /// release the deferral slot.
    pub(crate) fn defer_thread_exit(&'static self) {
        let Some(slot) = F::defer_key().with(SlotPtr::take) else { return };
        self.defer.hand_over_callbacks(slot);
        let sealed = self.kvfree.owner_exit(slot, &self.sequence, || self.reclaimer.under_pressure(self.parts()));
        self.defer.release_slot(slot);
        if sealed {
            self.ensure_reclaim_thread();
            self.reclaimer.note_sealed(self.parts());
        }
    }

    /// The handles the reclaimer works with.
    #[inline]
    fn parts(&self) -> Parts<'_> {
        Parts { flavour: F::NAME, defer: &self.defer, kvfree: &self.kvfree, sequence: &self.sequence }
    }

    /// Starts the reclaim thread unless it runs.
    #[inline]
    fn ensure_reclaim_thread(&'static self) {
        if !self.reclaimer.is_started() {
            self.start_reclaim_thread();
        }
    }

    #[cold]
    fn start_reclaim_thread(&'static self) {
        self.init();
        self.reclaimer.start(F::NAME, move || self.reclaimer.run(self.parts(), &|cookie| self.wait_for(cookie)));
    }

    /// Sets how long a partial kvfree block may wait before it is sealed
    /// (default [`DEFAULT_DRAIN_INTERVAL`](crate::kvfree::DEFAULT_DRAIN_INTERVAL)).
    pub fn set_kvfree_drain_interval(&self, interval: std::time::Duration) {
        self.kvfree.set_drain_interval(interval);
    }

    /// Drops every cached empty kvfree block and the spare `call_rcu`
    /// slots now (memory pressure). Returns
    /// how many blocks were freed.
    pub fn reclaim_now(&self) -> usize {
        crate::defer::slot_pool::trim();
        self.kvfree.drop_caches(&self.defer)
    }

    // ----- fork -----------------------------------------------------------

    pub(crate) fn fork_prepare(&self) {
        self.init_lock.raw_lock();
        self.defer.lock_for_fork();
        self.reclaimer.lock_for_fork();
        self.sequence.lock_for_fork();
    }

    pub(crate) fn fork_parent(&self) {
        self.sequence.unlock_after_fork_parent();
        self.reclaimer.unlock_after_fork_parent();
        self.defer.unlock_after_fork_parent();
        // SAFETY: taken by `fork_prepare` on this thread; no guard exists.
        unsafe { self.init_lock.raw_unlock() };
    }

    pub(crate) fn fork_child(&self) {
        // SAFETY: taken by `fork_prepare` before the fork, by this thread.
        unsafe { self.init_lock.raw_unlock() };
        crate::sys::reregister_after_fork();
        self.sequence.reset_after_fork_child();
        let pending_blocks = self.reclaimer.reset_after_fork_child(self.parts());
        self.registry.release_all_except(self.current_slot());
        self.kvfree.reset_after_fork_child(pending_blocks);
        self.defer.reset_after_fork_child(F::defer_key().with(SlotPtr::get));
    }

    // ----- reporting ----------------------------------------------------

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.snapshot(F::NAME, self.sequence.completed(), &self.registry);
        self.reclaimer.report(&mut stats);
        self.kvfree.report(&self.defer, &mut stats);
        stats
    }

    /// A human-readable dump of the grace-period state and every active
    /// reader: which thread holds a grace period up, and in which phase.
    pub fn state_report(&self) -> String {
        use std::fmt::Write;
        let gp = self.counter.ctr().load(Ordering::Relaxed);
        let mut out = format!(
            "rcu_{} state: {} grace periods completed, one in progress: {}, global counter {gp:#x}\n",
            F::NAME,
            self.sequence.completed(),
            self.sequence.in_progress()
        );
        for (i, slot) in self.registry.slots().enumerate() {
            let v = slot.word();
            let state = F::PROTOCOL.reader_state(v, gp);
            if state != crate::reader::ReaderState::Inactive {
                let _ = writeln!(out, "  slot {i}: thread {} word {v:#x} {state:?}", slot.tid());
            }
        }
        out
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn barrier_in_callback<F: FlavourLocals>() -> ! {
    panic!(
        "rcu_{}: rcu_barrier() called from an RCU callback; it would wait for the callback \
         itself forever. Call it from an ordinary thread",
        F::NAME
    )
}

#[cold]
#[inline(never)]
#[track_caller]
fn misuse_blocking<F: FlavourLocals>(what: &str) -> ! {
    match F::PROTOCOL {
        crate::reader::Protocol::PhaseFlip => panic!(
            "rcu_{}: {what} called inside a read-side critical section of the same thread; \
             this would wait for itself forever. Drop the ReadGuard first (or use call_rcu / \
             kvfree_rcu, which never block)",
            F::NAME
        ),
        crate::reader::Protocol::Increment => panic!(
            "rcu_{}: {what} called from an online QSBR thread; this would wait for the \
             thread's own quiescent state forever. Use QsbrThread::synchronize_rcu(&mut self) \
             (which goes offline while waiting), or call it inside QsbrThread::offline_scope",
            F::NAME
        ),
    }
}
