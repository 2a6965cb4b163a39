//! Headless `kvfree_rcu`: free a `Box` or `Vec` after a grace period with
//! no `RcuHead` inside it and no allocation per object.
//!
//! # Per-thread state
//!
//! Each thread that calls `kvfree_rcu` claims a [`DeferSlot`] (a registry
//! like the readers', one per flavour). The slot holds the thread's open
//! `Block` (module `block`), a small cache of empty blocks, and a small
//! emergency reserve block. The common path touches only the slot: two plain
//! stores to a sequence word around the append, a compiler fence (with
//! membarrier), and the block's words. No shared atomic read-modify-write,
//! no lock, no syscall.
//!
//! # Block life cycle
//!
//! open → **sealed** with a cookie (when full, after the drain interval, by
//! `rcu_barrier`, at thread exit) → handed to the reclaim thread's inbox →
//! kept in cookie order → **freed** once its grace period completed (one loop
//! per run of same-type objects) → **cached** in its home slot (at most
//! [`CACHED_BLOCKS_PER_THREAD`]) or deallocated.
//!
//! # Taking a block from a live owner ("steal")
//!
//! The drain timer and `rcu_barrier` seal partial blocks of threads that are
//! alive but idle. The owner's append is bracketed like a memb read-side
//! section: `seq` odd during the append, a light barrier after the odd store,
//! then the load of `block`. The stealer swaps `block` to null, issues a
//! heavy barrier (pairs with the owner's light barrier), then waits until
//! `seq` is even or has moved: either the owner's load saw null (it starts a
//! new block) or its append finished before the stealer reads the block.
//! `seq`'s even store is `Release` and the stealer's load `Acquire`, so the
//! stealer sees every entry written.
//!
//! # Emergency path (no block can be had)
//!
//! 1. The caller may block (not in a read-side section, not an online QSBR
//!    thread): `synchronize_rcu()`, then drop the object inline, as the
//!    kernel does.
//! 2. It may not block: the thread's preallocated reserve block becomes its
//!    open block. At the thread's first `kvfree_rcu` that may block again it
//!    is sealed (or earlier: full, `rcu_barrier`, thread exit; the drain
//!    timer leaves it alone, since its owner may still be in the section
//!    with no other block), freed after a grace period, and returns to the
//!    slot as its reserve.
//! 3. The reserve is in use and full too: abort, with a message like Rust's
//!    own out-of-memory abort. Nothing is freed early, nothing leaks. (An
//!    `rcu_barrier` from another thread collects a reserve in use, as it
//!    must; if allocation still fails, the owner's next kvfree in the same
//!    section finds no reserve and aborts. Known limitation.)
//!
//! We do not attach a small per-object head when a block cannot be
//! allocated (proposed in the original design discussion). The kernel
//! dropped that fallback: a caller that cannot get a page should leave the
//! remaining memory to others, and the synchronous path needs none.

pub use crate::block::DropFn;
use crate::block::{drop_box, drop_vec, Block, SealReason, SealedBlock, BLOCK_BYTES, MAX_ARITY, RESERVE_BYTES};
pub use crate::block::{BLOCK_HELD_BYTES, BYTES_PER_BLOCK_WORD};
use crate::defer::callback::{CallbackFn, RcuHead};
use crate::defer::local_callbacks::{Appended, ListEnd, LocalCallbacks};
use crate::engine::Engine;
use crate::reader::registry::{Registry, Slot};
use crate::sys::lock::ForkSafeMutex;
use crate::thread::FlavourLocals;
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Empty blocks a slot keeps for reuse (the kernel keeps 5 pages per CPU).
pub const CACHED_BLOCKS_PER_THREAD: u32 = 5;

/// Past this many objects in sealed blocks not yet freed (32 full blocks of
/// thin boxes), a `kvfree_rcu` caller that may block waits for reclaim when
/// it seals a block (until the whole backlog is under the soft limit), as it
/// does past [`CallbackLimits::hard`](crate::CallbackLimits) for the whole
/// backlog. Measured with `rcu-bench flood` (2 threads x 2,000,000 objects):
/// held only by that limit (200,000), a flood peaked at 11.6-12.8 MiB at
/// 25-35 Mobj/s; at 16,384 it peaks at 4.6-4.8 MiB at 35-38 Mobj/s (freed
/// memory is reused while still cached); at 8,192, 4.3-4.5 MiB at 27-33
/// Mobj/s (more waiting). crossbeam-epoch: 11 Mobj/s at 4.2-9.7 MiB.
pub const KVFREE_BACKLOG_HARD: u64 = 16_384;

/// Default drain interval: the kernel's `KFREE_DRAIN_JIFFIES` (HZ / 50).
/// A partial block waits at most this long plus a grace period; shorter
/// means more grace periods for sparse frees, longer holds memory longer.
pub const DEFAULT_DRAIN_INTERVAL: Duration = Duration::from_millis(20);

/// What the owner writes on every append, on cache lines of its own: the
/// reclaim thread reads the rest of the slot (`dirty_since`, the callback
/// list's `first`) on every pass, and sharing a line with those reads would
/// cost the owner a cache miss per `call_rcu`.
struct OwnerHot {
    /// Odd while the owner appends (see "steal").
    seq: AtomicU32,
    /// The open block, or null. Only the owner stores non-null.
    block: AtomicPtr<Block>,
    /// The owner's end of its callback list.
    callbacks_end: ListEnd,
}

/// One thread's deferral slot: its open kvfree block and its `call_rcu`
/// list, both stolen through the `seq` bracket (see the module docs).
#[repr(C)]
pub struct DeferSlot {
    hot: CachePadded<OwnerHot>,
    in_use: AtomicBool,
    /// Monotonic time (ns) of the first object in the open block; 0 when
    /// the block is empty or absent. Drives the drain timer.
    dirty_since: AtomicU64,
    /// The emergency reserve block, or null while in use.
    reserve: AtomicPtr<Block>,
    /// Empty blocks: a stack the reclaim thread pushes and the owner pops.
    cache: AtomicPtr<Block>,
    cache_len: AtomicU32,
    /// Held by the owner's pop and by `drop_caches` (any thread): without
    /// it, `drop_caches` could free the head a pop had loaded, and a block
    /// pushed again at that address would let the pop's exchange succeed
    /// with a stale link (ABA). Held for a few instructions; its holder
    /// never waits for anything.
    cache_busy: AtomicBool,
    /// The thread's own `call_rcu` list (see `local_callbacks.rs`), worked
    /// on inside the same `seq` bracket as the open block; its owner-only
    /// end is in `hot`.
    callbacks: LocalCallbacks,
}

impl DeferSlot {
    /// Appends to the owner's callback list.
    ///
    /// # Safety
    ///
    /// As [`LocalCallbacks::append`].
    #[inline]
    pub(crate) unsafe fn append_callback(&self, head: NonNull<RcuHead>, func: CallbackFn) -> Appended {
        // SAFETY: forwarded contract; `callbacks_end` is this list's end.
        unsafe { self.callbacks.append(&self.hot.callbacks_end, head, func) }
    }
}

impl Slot for DeferSlot {
    const NEW: Self = DeferSlot {
        hot: CachePadded::new(OwnerHot {
            seq: AtomicU32::new(0),
            block: AtomicPtr::new(std::ptr::null_mut()),
            callbacks_end: ListEnd::new(),
        }),
        in_use: AtomicBool::new(false),
        dirty_since: AtomicU64::new(0),
        reserve: AtomicPtr::new(std::ptr::null_mut()),
        cache: AtomicPtr::new(std::ptr::null_mut()),
        cache_len: AtomicU32::new(0),
        cache_busy: AtomicBool::new(false),
        callbacks: LocalCallbacks::new(),
    };
    fn in_use(&self) -> &AtomicBool {
        &self.in_use
    }
}

/// Counters (statistics and backlog).
#[derive(Default)]
pub(crate) struct KvfreeCounters {
    pub(crate) objects_sealed: AtomicU64,
    pub(crate) objects_freed: AtomicU64,
    pub(crate) blocks_sealed: [AtomicU64; 5],
    pub(crate) blocks_freed: AtomicU64,
    pub(crate) emergency_synchronize: AtomicU64,
    pub(crate) emergency_reserve: AtomicU64,
    pub(crate) drop_panics: AtomicU64,
}

/// What the slow path leaves for after the append section.
pub(crate) enum AfterAppend {
    Done,
    /// Backlog past the hard limit: wait for reclaim if allowed.
    Throttle,
    /// No block: synchronize then drop this entry inline.
    DropAfterGracePeriod(DropFn, [usize; MAX_ARITY]),
}

/// One flavour's kvfree state.
pub struct Kvfree {
    pub(crate) slots: Registry<DeferSlot>,
    /// Sealed blocks for the reclaim thread (a stack; it sorts them).
    inbox: AtomicPtr<Block>,
    drain_interval_ns: AtomicU64,
    /// Serialises steals (see `steal_partial_blocks`).
    steal_lock: ForkSafeMutex<()>,
    pub(crate) counters: KvfreeCounters,
}

impl std::fmt::Debug for Kvfree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kvfree").field("slots", &self.slots).finish_non_exhaustive()
    }
}

impl Kvfree {
    pub(crate) const fn new() -> Self {
        Kvfree {
            slots: Registry::new(),
            inbox: AtomicPtr::new(std::ptr::null_mut()),
            drain_interval_ns: AtomicU64::new(DEFAULT_DRAIN_INTERVAL.as_nanos() as u64),
            steal_lock: ForkSafeMutex::new(()),
            counters: KvfreeCounters {
                objects_sealed: AtomicU64::new(0),
                objects_freed: AtomicU64::new(0),
                blocks_sealed: [const { AtomicU64::new(0) }; 5],
                blocks_freed: AtomicU64::new(0),
                emergency_synchronize: AtomicU64::new(0),
                emergency_reserve: AtomicU64::new(0),
                drop_panics: AtomicU64::new(0),
            },
        }
    }

    pub(crate) fn drain_interval(&self) -> Duration {
        Duration::from_nanos(self.drain_interval_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn set_drain_interval(&self, d: Duration) {
        // Relaxed: advisory; the reclaim thread picks it up at its next wake.
        self.drain_interval_ns.store(d.as_nanos().clamp(1, u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    /// Objects sealed and not yet freed.
    pub(crate) fn backlog(&self) -> u64 {
        let freed = self.counters.objects_freed.load(Ordering::SeqCst);
        self.counters.objects_sealed.load(Ordering::Relaxed).saturating_sub(freed)
    }

    /// Blocks currently sitting in slot caches.
    pub(crate) fn cached_blocks(&self) -> u64 {
        self.slots.slots().map(|s| u64::from(s.cache_len.load(Ordering::Relaxed))).sum()
    }

    /// The earliest `dirty_since` among open blocks, if any.
    pub(crate) fn earliest_dirty(&self) -> Option<u64> {
        // SeqCst: pairs with the owner's SeqCst store in `mark_dirty` and
        // the reclaim thread's `sleeping` store (store-buffering pair).
        self.slots.slots().map(|s| s.dirty_since.load(Ordering::SeqCst)).filter(|&t| t != 0).min()
    }

    // ----- the owner's side -------------------------------------------------

    /// Appends one object for the calling thread's slot `slot`.
    #[inline]
    pub(crate) fn append<F: FlavourLocals>(
        &self,
        engine: &'static Engine<F>,
        slot: &'static DeferSlot,
        drop: DropFn,
        entry: &[usize],
        held: usize,
    ) {
        let after = owner_section(slot, || {
            // Relaxed: a non-null value was stored by this thread.
            let b = slot.hot.block.load(Ordering::Relaxed);
            match NonNull::new(b) {
                // SAFETY: the open block is ours while `seq` is odd (a
                // stealer that swapped it out waits for our even `seq`
                // before using it). The first object of a block goes
                // through the slow path, which marks the slot dirty for the
                // drain timer. So does every object while the reserve is
                // the open block, so that it is handed back as soon as the
                // caller may block again.
                Some(b)
                    if unsafe {
                        b.as_ref().objects() > 0 && !b.as_ref().is_reserve && Block::append(b, drop, entry, held)
                    } =>
                {
                    AfterAppend::Done
                }
                _ => self.append_slow(engine, slot, drop, entry, held),
            }
        });
        match after {
            AfterAppend::Done => {}
            AfterAppend::Throttle => engine.reclaimer.throttle_if_allowed(engine),
            AfterAppend::DropAfterGracePeriod(drop, entry) => {
                engine.synchronize();
                // SAFETY: the entry was never stored; a grace period has
                // elapsed since the caller unpublished the object.
                unsafe { drop(entry.as_ptr()) };
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn append_slow<F: FlavourLocals>(
        &self,
        engine: &'static Engine<F>,
        slot: &'static DeferSlot,
        drop: DropFn,
        entry: &[usize],
        held: usize,
    ) -> AfterAppend {
        let mut after = AfterAppend::Done;
        // Relaxed: a non-null value was stored by this thread.
        if let Some(b) = NonNull::new(slot.hot.block.load(Ordering::Relaxed)) {
            // SAFETY: ours while `seq` is odd (see `append`).
            let reserve_done = unsafe { b.as_ref().is_reserve } && engine.may_block();
            // SAFETY: as above.
            if !reserve_done && unsafe { Block::append(b, drop, entry, held) } {
                self.mark_dirty(engine, slot, b);
                return after;
            }
            // Full, or the reserve in use while the caller may block again
            // (emergency over: hand the reserve back through a grace period).
            // A stealer may have taken it meanwhile (then it seals it).
            // AcqRel: pairs with the stealer's swap.
            if let Some(old) = NonNull::new(slot.hot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
                slot.dirty_since.store(0, Ordering::Relaxed);
                let reason = if reserve_done { SealReason::ReserveReturn } else { SealReason::Full };
                if self.seal(engine, old, reason) {
                    after = AfterAppend::Throttle;
                }
            }
        }
        let fresh = self
            .take_cached(slot)
            .or_else(|| Block::try_new(BLOCK_BYTES, slot, false))
            .or_else(|| self.take_reserve(engine, slot));
        let Some(fresh) = fresh else {
            return self.no_block(engine, drop, entry);
        };
        // SAFETY: a fresh or cached block is empty and ours.
        let stored = unsafe { Block::append(fresh, drop, entry, held) };
        debug_assert!(stored, "an empty block takes any single object");
        // Release: a timer stealer reads the block's (immutable) reserve
        // flag after an Acquire load of this pointer; the block's entries are
        // published to stealers by the `seq` protocol (see "steal").
        slot.hot.block.store(fresh.as_ptr(), Ordering::Release);
        self.mark_dirty(engine, slot, fresh);
        after
    }

    /// No cached, fresh or reserve block: emergency branches 1 and 3.
    #[cold]
    fn no_block<F: FlavourLocals>(&self, engine: &'static Engine<F>, drop: DropFn, entry: &[usize]) -> AfterAppend {
        if engine.may_block() {
            self.counters.emergency_synchronize.fetch_add(1, Ordering::Relaxed);
            let mut words = [0usize; MAX_ARITY];
            words[..entry.len()].copy_from_slice(entry);
            return AfterAppend::DropAfterGracePeriod(drop, words);
        }
        // Written to the stderr file descriptor directly (not `eprintln!`,
        // which a test harness may capture in memory and lose at abort).
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "rcu_{}: kvfree_rcu: memory allocation of a {BLOCK_BYTES}-byte block failed, the calling \
             thread may not block for a grace period (it is inside a read-side section or an online \
             QSBR thread) and its emergency reserve is exhausted",
            F::NAME
        );
        std::process::abort();
    }

    /// Marks the slot dirty when `b` just received its first object, and
    /// makes sure the reclaim thread's drain timer is armed.
    /// An emergency reserve does not arm the timer (see `steal_partial_blocks`).
    #[inline]
    fn mark_dirty<F: FlavourLocals>(&self, engine: &'static Engine<F>, slot: &DeferSlot, b: NonNull<Block>) {
        // SAFETY: ours while `seq` is odd.
        if unsafe { b.as_ref().objects() == 1 && !b.as_ref().is_reserve } {
            // SeqCst: see `earliest_dirty`.
            slot.dirty_since.store(crate::sys::monotonic_ns().max(1), Ordering::SeqCst);
            engine.reclaimer.wake_for_timer(engine);
        }
    }

    fn take_cached(&self, slot: &DeferSlot) -> Option<NonNull<Block>> {
        if crate::fault::cache_fails() {
            return None;
        }
        let _busy = CacheBusy::take(slot);
        loop {
            // Acquire pairs with the Release push in `recycle`: the block's
            // emptied header is visible.
            let head = NonNull::new(slot.cache.load(Ordering::Acquire))?;
            // SAFETY: cached blocks stay allocated while on the stack; the
            // only other takers (`drop_caches`) are excluded by `cache_busy`,
            // and pushers only add above `head`, so `head` is neither freed
            // nor re-pushed under us (no ABA).
            let next = unsafe { head.as_ref().next };
            if slot.cache.compare_exchange(head.as_ptr(), next, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                slot.cache_len.fetch_sub(1, Ordering::Relaxed);
                return Some(head);
            }
        }
    }

    /// Emergency branch 2: the reserve becomes the open block.
    fn take_reserve<F: FlavourLocals>(&self, engine: &'static Engine<F>, slot: &DeferSlot) -> Option<NonNull<Block>> {
        if engine.may_block() {
            return None; // branch 1 (synchronize) is preferred when allowed
        }
        // AcqRel: pairs with the Release store of a freed reserve in `recycle`.
        let r = NonNull::new(slot.reserve.swap(std::ptr::null_mut(), Ordering::AcqRel))?;
        self.counters.emergency_reserve.fetch_add(1, Ordering::Relaxed);
        Some(r)
    }

    /// Seals `b` and hands it to the reclaim thread. Returns whether the
    /// backlog is past the hard limit.
    pub(crate) fn seal<F: FlavourLocals>(
        &self,
        engine: &'static Engine<F>,
        b: NonNull<Block>,
        reason: SealReason,
    ) -> bool {
        // The cookie is taken now, after a fence (inside `snapshot`): every
        // object in the block was unpublished before. A later cookie than
        // strictly needed is conservative.
        // SAFETY: the caller owns the open block and never appends again.
        let sealed = unsafe { SealedBlock::seal(b, engine.sequence().snapshot()) };
        self.counters.objects_sealed.fetch_add(sealed.objects() as u64, Ordering::Relaxed);
        self.counters.blocks_sealed[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.push_inbox(sealed);
        engine.reclaimer.note_sealed(engine)
    }

    fn push_inbox(&self, sealed: SealedBlock) {
        let b = sealed.into_raw();
        let mut head = self.inbox.load(Ordering::Relaxed);
        loop {
            // SAFETY: the block is ours until the exchange publishes it.
            unsafe { (*b.as_ptr()).next = head };
            // Release publishes the block and its entries to the reclaim
            // thread's Acquire swap in `take_inbox`; SeqCst also orders it
            // with the `sleeping` load in `note_sealed` (store-buffering
            // pair with `Reclaimer::idle`, which checks `has_inbox`).
            match self.inbox.compare_exchange_weak(head, b.as_ptr(), Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    /// Whether sealed blocks wait in the inbox.
    pub(crate) fn has_inbox(&self) -> bool {
        // SeqCst: see `push_inbox`.
        !self.inbox.load(Ordering::SeqCst).is_null()
    }

    /// Takes every sealed block handed over so far (reclaim thread).
    pub(crate) fn take_inbox(&self) -> *mut Block {
        // Acquire pairs with the Release in `push_inbox`.
        self.inbox.swap(std::ptr::null_mut(), Ordering::Acquire)
    }

    // ----- thread exit and stealing -----------------------------------------

    /// The owner leaves: seals its open block and releases the slot. The
    /// cache and reserve stay with the slot for its next owner.
    pub(crate) fn owner_exit<F: FlavourLocals>(&self, engine: &'static Engine<F>, slot: &'static DeferSlot) {
        // Inside the bracket, so that an `rcu_barrier` racing with the exit
        // either steals the list or waits until it is in the shared queue.
        owner_section(slot, || {
            // SAFETY: our slot, inside its bracket.
            if let Some((first, last)) = unsafe { slot.callbacks.take_own(&slot.hot.callbacks_end) } {
                engine.reclaimer.push_list(first, last);
            }
        });
        // AcqRel: pairs with a concurrent stealer's swap.
        if let Some(b) = NonNull::new(slot.hot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
            slot.dirty_since.store(0, Ordering::Relaxed);
            self.seal_or_recycle(engine, b, SealReason::ThreadExit);
        }
        self.slots.release(slot);
    }

    fn seal_or_recycle<F: FlavourLocals>(&self, engine: &'static Engine<F>, b: NonNull<Block>, reason: SealReason) {
        // SAFETY: the caller owns `b`.
        if unsafe { b.as_ref().objects() } > 0 {
            self.seal(engine, b, reason);
        } else {
            self.recycle(engine, b);
        }
    }

    /// Takes what other threads hold, idle or not, without racing with
    /// their owners (see "steal"): partial blocks (sealed with `what`'s
    /// reason) and/or callback lists (handed to the shared queue), per
    /// [`Steal`]. In barrier mode every append in progress anywhere is
    /// also waited out, so that a block or list its owner is handing over
    /// right now is in the inbox or queue before the barrier's marker is
    /// queued. Steals are serialised: a barrier never overtakes a steal in
    /// progress. Returns the blocks and lists taken.
    pub(crate) fn steal<F: FlavourLocals>(&self, engine: &'static Engine<F>, what: Steal) -> usize {
        let _serial = self.steal_lock.lock();
        let now = crate::sys::monotonic_ns();
        let mut stolen: *mut Block = std::ptr::null_mut();
        let mut lists = 0;
        let mut any_slot = false;
        // Every slot, claimed or not: a forked child's slots of vanished
        // threads are released with their partial block still in place.
        for slot in self.slots.slots() {
            // Acquire pairs with the Release in `Registry::release` (thread
            // exit): a barrier that finds no slot in use, and so issues no
            // heavy barrier, still sees what the exiting owner handed over.
            any_slot |= slot.in_use.load(Ordering::Acquire);
            if what.takes_callbacks() && slot.callbacks.begin_steal() {
                lists += 1;
            }
            if !what.takes_block(slot, now) {
                continue;
            }
            // AcqRel: pairs with the owner's swap in `append_slow`/`owner_exit`.
            if let Some(b) = NonNull::new(slot.hot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
                slot.dirty_since.store(0, Ordering::Relaxed);
                // SAFETY: the block is ours now (its header's `next` is only
                // used by lists, and it is in none while open).
                unsafe { (*b.as_ptr()).next = stolen };
                stolen = b.as_ptr();
            }
        }
        let barrier_mode = matches!(what, Steal::Barrier);
        if stolen.is_null() && lists == 0 && !(barrier_mode && any_slot) {
            return 0;
        }
        // Pairs with the owners' light barrier after their odd `seq`.
        crate::sys::heavy_barrier();
        if barrier_mode {
            self.slots.slots().for_each(wait_for_append_to_finish);
        }
        if lists > 0 {
            for slot in self.slots.slots().filter(|s| s.callbacks.has_stolen()) {
                wait_for_append_to_finish(slot);
                if let Some((first, last)) = slot.callbacks.finish_steal() {
                    engine.reclaimer.push_list(first, last);
                }
            }
        }
        let mut n = lists;
        while let Some(b) = NonNull::new(stolen) {
            // SAFETY: stolen above; home is the slot it was taken from.
            let (next, home) = unsafe { (b.as_ref().next, &*b.as_ref().home) };
            wait_for_append_to_finish(home);
            stolen = next;
            let reason = what.seal_reason().expect("a steal that takes no block took one");
            self.seal_or_recycle(engine, b, reason);
            n += 1;
        }
        n
    }

    /// Whether some thread's callback list has heads (see `local_callbacks.rs`).
    pub(crate) fn has_callback_lists(&self) -> bool {
        self.slots.slots().any(|s| s.callbacks.has_list())
    }

    /// The reclaim thread's look at the callback lists: whether any has
    /// heads, and whether one of those has an owner that made no append
    /// since the previous look (then it is time to steal).
    pub(crate) fn look_at_callback_lists(&self) -> CallbackLists {
        let mut seen = CallbackLists::None;
        for slot in self.slots.slots().filter(|s| s.callbacks.has_list()) {
            // Relaxed: a hint; a stale value only advances or delays a steal.
            let seq = slot.hot.seq.load(Ordering::Relaxed);
            if slot.callbacks.owner_quiet_since_last_look(seq) {
                seen = CallbackLists::Quiet;
            } else if matches!(seen, CallbackLists::None) {
                seen = CallbackLists::Busy;
            }
        }
        seen
    }

    // ----- the reclaim thread's side ------------------------------------------

    /// Frees the objects of a block whose grace period completed, then
    /// recycles the block.
    pub(crate) fn free_block<F: FlavourLocals>(&self, engine: &'static Engine<F>, sealed: SealedBlock) {
        debug_assert!(
            engine.poll(sealed.cookie()),
            "rcu_{}: kvfree block freed before its grace period (cookie {:?})",
            F::NAME,
            sealed.cookie()
        );
        let b = sealed.into_raw();
        let mut panics = 0;
        // SAFETY: sealed, grace period complete, owned by the reclaim thread.
        let n = unsafe { Block::drop_all(b, F::NAME, &mut panics) };
        self.counters.objects_freed.fetch_add(n as u64, Ordering::SeqCst);
        self.counters.blocks_freed.fetch_add(1, Ordering::Relaxed);
        if panics > 0 {
            self.counters.drop_panics.fetch_add(panics, Ordering::Relaxed);
        }
        self.recycle(engine, b);
    }

    /// An empty block goes back to its home slot (reserve, or cache if
    /// there is room and memory is not under pressure), or is deallocated.
    fn recycle<F: FlavourLocals>(&self, engine: &'static Engine<F>, b: NonNull<Block>) {
        // SAFETY: the caller owns the empty block; `home` is a slot of a
        // static registry (never freed).
        let (home, is_reserve) = unsafe { (&*b.as_ref().home, b.as_ref().is_reserve) };
        if is_reserve {
            // Release pairs with the AcqRel swap in `take_reserve`.
            if home
                .reserve
                .compare_exchange(std::ptr::null_mut(), b.as_ptr(), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        } else if !engine.reclaimer.under_pressure(engine)
            && home.cache_len.load(Ordering::Relaxed) < CACHED_BLOCKS_PER_THREAD
        {
            home.cache_len.fetch_add(1, Ordering::Relaxed);
            let mut head = home.cache.load(Ordering::Relaxed);
            loop {
                // SAFETY: ours until published.
                unsafe { (*b.as_ptr()).next = head };
                // Release pairs with the Acquire in `take_cached`.
                match home.cache.compare_exchange_weak(head, b.as_ptr(), Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(h) => head = h,
                }
            }
        }
        // SAFETY: empty, owned, and not referenced by any list.
        unsafe { Block::dealloc(b) };
    }

    /// Drops every cached block of every slot (memory pressure).
    pub(crate) fn drop_caches(&self) -> usize {
        let mut n = 0;
        for slot in self.slots.slots() {
            // Excludes the owner's pop (see `DeferSlot::cache_busy`).
            let _busy = CacheBusy::take(slot);
            // Acquire pairs with the Release pushes in `recycle`.
            let mut p = slot.cache.swap(std::ptr::null_mut(), Ordering::Acquire);
            while let Some(b) = NonNull::new(p) {
                // SAFETY: taken off the stack above, so ours.
                p = unsafe { b.as_ref().next };
                // SAFETY: cached blocks are empty and unreferenced.
                unsafe { Block::dealloc(b) };
                slot.cache_len.fetch_sub(1, Ordering::Relaxed);
                n += 1;
            }
        }
        n
    }
}

impl Kvfree {
    /// `fork()` support, child side, after the callback queue was repaired:
    /// hands every thread's callback list to `queue` (the forking thread's
    /// and those of threads that do not exist here). Returns the heads.
    pub(crate) fn flush_callback_lists_after_fork(&self, queue: &crate::defer::queue::CallbackQueue) -> usize {
        let mut heads = 0;
        for slot in self.slots.slots() {
            if let Some((first, last, n)) = slot.callbacks.take_after_fork() {
                heads += n;
                // SAFETY: a complete list taken from its slot, owned here.
                unsafe { queue.push_list(first, last) };
            }
        }
        heads
    }

    /// `fork()` support: hold the steal lock across the fork.
    pub(crate) fn lock_for_fork(&self) {
        self.steal_lock.raw_lock();
    }

    /// `fork()` support, parent side.
    pub(crate) fn unlock_after_fork_parent(&self) {
        // SAFETY: taken by `lock_for_fork` on this thread; no guard exists.
        unsafe { self.steal_lock.raw_unlock() };
    }

    /// `fork()` support, child side: the slots of threads that do not
    /// exist here are released; an append they were in the middle of is
    /// abandoned (its object leaks in the child's copy), and their partial
    /// blocks stay in place for the next drain or `rcu_barrier`.
    /// `pending` is what the reclaim thread's list still holds (blocks,
    /// objects); the counters are recomputed from it and the inbox, since a
    /// block the parent was freeing at the fork is lost to the child.
    pub(crate) fn reset_after_fork_child(&self, keep: Option<&DeferSlot>, pending: (u64, u64)) {
        let (mut blocks, mut objects) = pending;
        // Relaxed: the child is single-threaded here.
        let mut b = self.inbox.load(Ordering::Relaxed);
        while let Some(block) = NonNull::new(b) {
            // SAFETY: inbox blocks are sealed and stay allocated.
            let block = unsafe { block.as_ref() };
            blocks += 1;
            objects += block.objects() as u64;
            b = block.next;
        }
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        unsafe { self.steal_lock.raw_unlock() };
        let c = &self.counters;
        let sealed_objects = c.objects_sealed.load(Ordering::Relaxed);
        c.objects_freed.store(sealed_objects.saturating_sub(objects), Ordering::Relaxed);
        let sealed_blocks: u64 = c.blocks_sealed.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        c.blocks_freed.store(sealed_blocks.saturating_sub(blocks), Ordering::Relaxed);
        for slot in self.slots.slots() {
            if keep.is_some_and(|k| std::ptr::eq(k, slot)) {
                continue;
            }
            // Relaxed: the child is single-threaded here.
            let seq = slot.hot.seq.load(Ordering::Relaxed);
            slot.hot.seq.store(seq & !1, Ordering::Relaxed);
            slot.in_use.store(false, Ordering::Relaxed);
        }
        for slot in self.slots.slots() {
            // A thread that vanished in the fork may have held it.
            // Relaxed: the child is single-threaded here.
            slot.cache_busy.store(false, Ordering::Relaxed);
        }
    }
}

/// `DeferSlot::cache_busy`, held for the guard's life.
struct CacheBusy<'a>(&'a DeferSlot);

impl<'a> CacheBusy<'a> {
    fn take(slot: &'a DeferSlot) -> Self {
        // Acquire pairs with the Release store in `drop`: the previous
        // holder's stack operations happen before ours.
        while slot.cache_busy.swap(true, Ordering::Acquire) {
            std::hint::spin_loop();
        }
        CacheBusy(slot)
    }
}

impl Drop for CacheBusy<'_> {
    fn drop(&mut self) {
        // Release: see `take`.
        self.0.cache_busy.store(false, Ordering::Release);
    }
}

mod sealed {
    pub trait Sealed {}
    impl<T: ?Sized> Sealed for Box<T> {}
    impl<T> Sealed for Vec<T> {}
}

/// An object type-erased for a kvfree block: its drop function, the
/// words of its raw parts (1 to 3 of `words` used) and the bytes it
/// occupies (what it owns beyond that is not seen).
#[derive(Debug)]
pub struct Entry {
    pub(crate) drop: DropFn,
    pub(crate) words: [usize; MAX_ARITY],
    pub(crate) arity: usize,
    pub(crate) held: usize,
}

/// What `kvfree_rcu` can free after a grace period with no head inside:
/// `Box<T>` (also `Box<[T]>`, `Box<dyn Trait + Send>`, zero-sized `T`) and
/// `Vec<T>` (without reallocating it). Sealed.
pub trait RcuFree: sealed::Sealed + Send + 'static {
    /// Gives up ownership as an [`Entry`], dropped later by its function.
    fn into_entry(self) -> Entry;
}

impl<T: ?Sized + Send + 'static> RcuFree for Box<T> {
    #[inline]
    fn into_entry(self) -> Entry {
        let held = std::mem::size_of_val::<T>(&*self);
        let mut words = [0usize; MAX_ARITY];
        const { assert!(std::mem::size_of::<*mut T>() <= MAX_ARITY * std::mem::size_of::<usize>()) };
        // SAFETY: a raw (possibly fat) pointer fits in the words (checked
        // above) and is plain data; `drop_box::<T>` reads it back once.
        unsafe { words.as_mut_ptr().cast::<*mut T>().write(Box::into_raw(self)) };
        Entry { drop: drop_box::<T>, words, arity: std::mem::size_of::<*mut T>() / std::mem::size_of::<usize>(), held }
    }
}

impl<T: Send + 'static> RcuFree for Vec<T> {
    #[inline]
    fn into_entry(self) -> Entry {
        let mut v = std::mem::ManuallyDrop::new(self);
        // No overflow: an allocated capacity's bytes fit in `isize`, and
        // zero-sized `T` (capacity `usize::MAX`) occupy nothing.
        let held = v.capacity() * std::mem::size_of::<T>();
        Entry { drop: drop_vec::<T>, words: [v.as_mut_ptr() as usize, v.len(), v.capacity()], arity: 3, held }
    }
}

/// Claims the calling thread's deferral slot with its reserve.
pub(crate) fn claim_slot(kv: &'static Kvfree) -> &'static DeferSlot {
    let slot = kv.slots.claim();
    // Relaxed: the slot is ours; only the reclaim thread stores a reserve
    // back, and only after this one was taken.
    if slot.reserve.load(Ordering::Relaxed).is_null() {
        if let Some(r) = Block::try_new(RESERVE_BYTES, slot, true) {
            slot.reserve.store(r.as_ptr(), Ordering::Relaxed);
        }
    }
    slot
}

/// What [`Kvfree::look_at_callback_lists`] saw.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallbackLists {
    /// No thread has a partial list.
    None,
    /// Some have, and their owners appended since the previous look.
    Busy,
    /// Some list's owner made no append since the previous look.
    Quiet,
}

/// What [`Kvfree::steal`] takes.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Steal {
    /// The drain timer: partial blocks dirty for at least this many ns
    /// (never an emergency reserve, which does not arm the timer).
    DrainTimer { older_than: u64 },
    /// `rcu_barrier`: every partial block and callback list.
    Barrier,
    /// The reclaim thread, with nothing else to wait for: callback lists.
    Callbacks,
}

impl Steal {
    fn takes_callbacks(self) -> bool {
        matches!(self, Steal::Barrier | Steal::Callbacks)
    }

    fn takes_block(self, slot: &DeferSlot, now: u64) -> bool {
        match self {
            Steal::DrainTimer { older_than } => {
                // SeqCst: see `earliest_dirty`.
                let since = slot.dirty_since.load(Ordering::SeqCst);
                since != 0 && now.saturating_sub(since) >= older_than
            }
            Steal::Barrier => true,
            Steal::Callbacks => false,
        }
    }

    /// Why a block this steal took is sealed. A steal of callbacks takes
    /// no block (`takes_block`), so it has no reason to count.
    fn seal_reason(self) -> Option<SealReason> {
        match self {
            Steal::DrainTimer { .. } => Some(SealReason::Timer),
            Steal::Barrier => Some(SealReason::Barrier),
            Steal::Callbacks => None,
        }
    }
}

/// Runs `f` inside the owner's `seq` bracket of `slot` (see "steal"):
/// `seq` odd, a light barrier, `f`, then `seq` even with Release.
#[inline(always)]
pub(crate) fn owner_section<R>(slot: &DeferSlot, f: impl FnOnce() -> R) -> R {
    // Relaxed: only the owner writes `seq`.
    let seq = slot.hot.seq.load(Ordering::Relaxed);
    slot.hot.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    // Orders the odd `seq` before `f`'s loads of `block` and the callback
    // list; pairs with the stealer's heavy barrier after its swaps.
    crate::sys::light_barrier();
    let r = f();
    // Release pairs with the stealer's Acquire load of `seq`: what `f`
    // wrote (block entries, list links) is visible to it.
    slot.hot.seq.store(seq.wrapping_add(2), Ordering::Release);
    r
}

/// Waits until the owner of `slot` is not inside an append that began
/// before the stealer's heavy barrier.
fn wait_for_append_to_finish(slot: &DeferSlot) {
    // Acquire pairs with the owner's Release store of an even `seq`.
    let seq = slot.hot.seq.load(Ordering::Acquire);
    if seq & 1 == 0 {
        return;
    }
    let backoff = crossbeam_utils::Backoff::new();
    while slot.hot.seq.load(Ordering::Acquire) == seq {
        backoff.snooze();
    }
}
