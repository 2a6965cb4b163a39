//! Headless `kvfree_rcu`: free a `Box` or `Vec` after a grace period with
//! no `RcuHead` inside it and no allocation per object.
//!
//! # Per-thread state
//!
//! Each thread that calls `kvfree_rcu` claims a [`KvfreeSlot`] (a registry
//! like the readers', one per flavour). The slot holds the thread's open
//! [`Block`](crate::block), a small cache of empty blocks, and a small
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
//! # Producer-side freeing
//!
//! A thread that may block (not in a read-side section, not an online QSBR
//! thread, not the reclaim thread) keeps the blocks it seals when full on
//! its slot's own `sealed` list, oldest first, instead of handing them to
//! the reclaim thread. After each such seal, once its append section has
//! ended, it frees the blocks at the head of that list whose grace period
//! has completed (one load per block), as the kernel drains its per-CPU
//! blocks and crossbeam-epoch collects on `pin`: the objects return to the
//! allocator on the thread that allocated them (glibc's thread cache reuses
//! them at once; a cross-thread free is several times slower), and memory
//! does not pile up behind one reclaim thread. The reclaim thread is asked
//! for the grace period (`wanted`) and rides its gather window as usual.
//! When the list holds [`OWNER_SEALED_BLOCKS`] blocks, the thread waits for
//! its oldest block's grace period itself (leading one or riding one in
//! flight), so its backlog is bounded whatever the allocation rate.
//!
//! The list is under a small per-slot lock: the owner takes it once per
//! sealed block (never per object) and never while holding another lock;
//! stealers take it briefly. Blocks leave the list only whole and in cookie
//! order, so cookie order is kept. Destructors run outside the append
//! section and outside the lock (they may call `kvfree_rcu` again; such a
//! nested call does not collect). While the owner frees blocks it took off
//! the list, `collect_seq` is odd: `rcu_barrier`, after taking the list,
//! waits for it to move, so every object sealed before the barrier has been
//! dropped when it returns. An idle owner's list is taken by the drain timer
//! once the owner has not touched it for the drain interval, and at thread
//! exit the list goes to the reclaim thread.
//!
//! # Interleaved freeing
//!
//! Freeing a whole ready block at once returns about 500 objects to the
//! allocator together; glibc's thread cache keeps only 7 chunks per size,
//! so the rest go to its shared bins, and the owner's next 500 allocations
//! take them back one locked exchange each (that, not kvfree itself, was
//! most of a flood's cost). So the owner frees its ready blocks a few
//! objects at a time instead: while it has sealed blocks, the open block's
//! fast-append bound (`limit`) is set a few words ahead, and each time an
//! append reaches it the slow path runs a *drain step* after the append
//! section: it takes the oldest ready block as the slot's draining block
//! and claims and drops [`DRAIN_STEP`] objects of it (more when half the
//! bound waits). As many objects are freed as allocated, through the
//! thread cache. While its blocks still wait, the check runs only every
//! `DRAIN_POLL_WORDS` words. At [`OWNER_SEALED_BLOCKS`] waiting blocks the
//! owner falls back to freeing whole ready blocks and waiting, as above.
//!
//! The draining block stays in the owner's list structure (`draining`,
//! under the list lock) with its cursor in the block, so stealers find it:
//! a claim is made under the lock and sets `collect_seq` odd until the
//! claimed objects are dropped. `rcu_barrier` takes the draining block with
//! the list and waits for `collect_seq` to move, then the reclaim thread
//! drops the unclaimed rest; the drain timer takes it only while no claim
//! is outstanding (it never waits for user destructors), and retries.
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
use crate::engine::Engine;
use crate::flavour::Flavour;
use crate::lock::ForkSafeMutex;
use crate::registry::{Registry, Slot};
use crate::sequence::GpState;
use crate::thread::SlotPtr;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

/// Empty blocks a slot keeps for reuse (the kernel keeps 5 pages per CPU).
pub const CACHED_BLOCKS_PER_THREAD: u32 = 5;

/// Sealed blocks a thread keeps waiting for their grace period before it
/// frees whole ready blocks and waits for the oldest one itself (see
/// "Producer-side freeing"). 16 blocks hold about 8,000 small objects:
/// enough that a flooding memb thread rarely waits (a grace period, 30 to
/// 250 us on the 2-vCPU test VM, completes while it fills a few), few
/// enough that its backlog stays a few hundred KiB (peak RSS of a 2-thread
/// flood 4.4 MiB with 16, 5.0 MiB with 32, base 3.4 MiB).
pub const OWNER_SEALED_BLOCKS: u32 = 16;

/// Empty blocks a slot's cache keeps when its owner freed them itself
/// (see `Kvfree::recycle`): as many as its list may hold, so a flooding
/// thread cycles through the same blocks and never allocates one.
pub const OWNER_CACHED_BLOCKS: u32 = OWNER_SEALED_BLOCKS;

/// Objects a thread frees from its ready blocks per step of interleaved
/// freeing, and words it appends between steps (see "Interleaved
/// freeing"): glibc's thread cache keeps 7 chunks per size class, so freed
/// objects are allocated again from it.
const DRAIN_STEP: usize = 7;
/// Drain steps' freed objects are added to the shared counter in batches
/// of about this many (and by `rcu_barrier`, thread exit, and when the
/// owner runs out of ready blocks).
const FLUSH_FREED_OBJECTS: u64 = 256;

/// Words appended between checks while the owner's sealed blocks all still
/// wait for their grace period.
const DRAIN_POLL_WORDS: usize = 64;

/// `drain_mode`: no sealed block of the owner's waits (the open block's
/// fast appends run to its capacity).
const DRAIN_IDLE: u8 = 0;
/// Sealed blocks wait, none ready: check every `DRAIN_POLL_WORDS`.
const DRAIN_WAITING: u8 = 1;
/// A ready block is being freed: a step every `DRAIN_STEP` words.
const DRAIN_ACTIVE: u8 = 2;

/// Default drain interval: the kernel's `KFREE_DRAIN_JIFFIES` (HZ / 50).
/// A partial block waits at most this long plus a grace period; shorter
/// means more grace periods for sparse frees, longer holds memory longer.
pub const DEFAULT_DRAIN_INTERVAL: Duration = Duration::from_millis(20);

/// One thread's kvfree state (see the module docs).
pub struct KvfreeSlot {
    in_use: AtomicBool,
    /// Odd while the owner appends (see "steal").
    seq: AtomicU32,
    /// The open block, or null. Only the owner stores non-null.
    block: AtomicPtr<Block>,
    /// Monotonic time (ns) of the first object in the open block; 0 when
    /// the block is empty or absent. Drives the drain timer.
    dirty_since: AtomicU64,
    /// The emergency reserve block, or null while in use.
    reserve: AtomicPtr<Block>,
    /// Empty blocks: a stack the reclaim thread pushes and the owner pops.
    cache: AtomicPtr<Block>,
    cache_len: AtomicU32,
    /// Blocks the owner sealed and frees itself (see "Producer-side freeing").
    sealed: ForkSafeMutex<SealedList>,
    /// Monotonic time (ns) the owner last left `sealed` non-empty; 0 when
    /// empty. The drain timer takes the list of an owner idle that long.
    sealed_since: AtomicU64,
    /// Odd while the owner frees blocks it took off `sealed`, or objects
    /// it claimed in its draining block.
    collect_seq: AtomicU32,
    /// Objects freed in drain steps not yet added to the shared counter.
    freed_unflushed: AtomicU64,
    /// How often the owner's appends stop to free (see "Interleaved
    /// freeing"): `DRAIN_IDLE`, `DRAIN_WAITING` or `DRAIN_ACTIVE`. Written
    /// and read by the owner only.
    drain_mode: AtomicU8,
}

/// A slot's own sealed blocks, oldest (smallest cookie) first, linked
/// through their headers.
pub(crate) struct SealedList {
    head: *mut Block,
    tail: *mut Block,
    len: u32,
    /// A ready block its owner is freeing a few objects at a time (not
    /// counted in `len`; older than every listed block).
    draining: *mut Block,
}

// SAFETY: the blocks are sealed and owned by the list; only the holder of
// the slot's lock touches them.
unsafe impl Send for SealedList {}

impl SealedList {
    const fn new() -> Self {
        SealedList { head: std::ptr::null_mut(), tail: std::ptr::null_mut(), len: 0, draining: std::ptr::null_mut() }
    }

    /// Appends the newest block (the owner's cookies never decrease).
    fn push(&mut self, sealed: SealedBlock) {
        let b = sealed.into_raw().as_ptr();
        // SAFETY: the block is ours; every listed block is owned by the list.
        unsafe {
            (*b).next = std::ptr::null_mut();
            match NonNull::new(self.tail) {
                Some(t) => (*t.as_ptr()).next = b,
                None => self.head = b,
            }
        }
        self.tail = b;
        self.len += 1;
    }

    /// Detaches the leading blocks whose grace period has completed.
    fn take_ready(&mut self, is_done: impl Fn(GpState) -> bool) -> *mut Block {
        let first = self.head;
        let mut last: *mut Block = std::ptr::null_mut();
        // SAFETY: every listed block is sealed and owned by the list.
        unsafe {
            while !self.head.is_null() && is_done((*self.head).cookie) {
                last = self.head;
                self.head = (*last).next;
                self.len -= 1;
            }
            if last.is_null() {
                return std::ptr::null_mut();
            }
            (*last).next = std::ptr::null_mut();
        }
        if self.head.is_null() {
            self.tail = std::ptr::null_mut();
        }
        first
    }

    /// Detaches the oldest block if its grace period has completed.
    fn take_one_ready(&mut self, is_done: impl Fn(GpState) -> bool) -> Option<NonNull<Block>> {
        let head = NonNull::new(self.head)?;
        // SAFETY: every listed block is sealed and owned by the list.
        unsafe {
            if !is_done(head.as_ref().cookie) {
                return None;
            }
            self.head = head.as_ref().next;
            (*head.as_ptr()).next = std::ptr::null_mut();
        }
        self.len -= 1;
        if self.head.is_null() {
            self.tail = std::ptr::null_mut();
        }
        Some(head)
    }

    /// Detaches every block, the draining one first.
    fn take_all(&mut self) -> *mut Block {
        let mut first = self.head;
        if let Some(d) = NonNull::new(self.draining) {
            // SAFETY: the draining block is owned by the list.
            unsafe { (*d.as_ptr()).next = first };
            first = d.as_ptr();
        }
        *self = SealedList::new();
        first
    }

    fn oldest_cookie(&self) -> Option<GpState> {
        // SAFETY: as in `take_ready`.
        NonNull::new(self.head).map(|b| unsafe { b.as_ref().cookie })
    }

    /// (blocks, objects not yet dropped) listed or draining.
    fn count(&self) -> (u64, u64) {
        let (mut blocks, mut objects) = (0, 0);
        if let Some(d) = NonNull::new(self.draining) {
            blocks += 1;
            // SAFETY: the draining block is owned by the list.
            objects += unsafe { d.as_ref().unclaimed() } as u64;
        }
        let mut b = self.head;
        while let Some(block) = NonNull::new(b) {
            // SAFETY: as in `take_ready`.
            let block = unsafe { block.as_ref() };
            blocks += 1;
            objects += block.objects() as u64;
            b = block.next;
        }
        (blocks, objects)
    }
}

impl Slot for KvfreeSlot {
    const NEW: Self = KvfreeSlot {
        in_use: AtomicBool::new(false),
        seq: AtomicU32::new(0),
        block: AtomicPtr::new(std::ptr::null_mut()),
        dirty_since: AtomicU64::new(0),
        reserve: AtomicPtr::new(std::ptr::null_mut()),
        cache: AtomicPtr::new(std::ptr::null_mut()),
        cache_len: AtomicU32::new(0),
        sealed: ForkSafeMutex::new(SealedList::new()),
        sealed_since: AtomicU64::new(0),
        collect_seq: AtomicU32::new(0),
        drain_mode: AtomicU8::new(DRAIN_IDLE),
        freed_unflushed: AtomicU64::new(0),
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
    pub(crate) blocks_freed_by_owner: AtomicU64,
    pub(crate) owner_waits: AtomicU64,
    pub(crate) emergency_synchronize: AtomicU64,
    pub(crate) emergency_reserve: AtomicU64,
    pub(crate) drop_panics: AtomicU64,
}

/// What the slow path leaves for after the append section.
pub(crate) enum AfterAppend {
    Done,
    /// Backlog past the hard limit: wait for reclaim if allowed.
    Throttle,
    /// A block went to the slot's own list: free the ready ones.
    Collect,
    /// Free a few objects of the owner's ready blocks.
    DrainStep,
    /// No block: synchronize then drop this entry inline.
    DropAfterGracePeriod(DropFn, [usize; MAX_ARITY]),
}

/// One flavour's kvfree state.
pub struct Kvfree {
    pub(crate) slots: Registry<KvfreeSlot>,
    /// Sealed blocks for the reclaim thread (a stack; it sorts them).
    inbox: AtomicPtr<Block>,
    drain_interval_ns: AtomicU64,
    /// The newest cookie of a block on some slot's own list: the reclaim
    /// thread completes it (see "Producer-side freeing").
    wanted: AtomicU64,
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
            wanted: AtomicU64::new(0),
            steal_lock: ForkSafeMutex::new(()),
            counters: KvfreeCounters {
                objects_sealed: AtomicU64::new(0),
                objects_freed: AtomicU64::new(0),
                blocks_sealed: [const { AtomicU64::new(0) }; 5],
                blocks_freed: AtomicU64::new(0),
                blocks_freed_by_owner: AtomicU64::new(0),
                owner_waits: AtomicU64::new(0),
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

    /// The earliest `dirty_since` among open blocks or `sealed_since`
    /// among own lists, if any.
    pub(crate) fn earliest_dirty(&self) -> Option<u64> {
        // SeqCst: pairs with the owner's SeqCst stores in `mark_dirty` and
        // `seal_to_own_list` and the reclaim thread's `sleeping` store
        // (store-buffering pair).
        self.slots
            .slots()
            .flat_map(|s| [s.dirty_since.load(Ordering::SeqCst), s.sealed_since.load(Ordering::SeqCst)])
            .filter(|&t| t != 0)
            .min()
    }

    /// The newest cookie some owner's list waits for.
    pub(crate) fn wanted(&self) -> GpState {
        // SeqCst: pairs with the `fetch_max` in `seal_to_own_list`; with the
        // `sleeping` store and load, a store-buffering pair (see `idle`).
        GpState::from_seq(self.wanted.load(Ordering::SeqCst))
    }

    // ----- the owner's side -------------------------------------------------

    /// Appends one object for the calling thread's slot `slot`.
    #[inline]
    pub(crate) fn append<F: Flavour>(
        &self,
        engine: &'static Engine<F>,
        slot: &'static KvfreeSlot,
        drop: DropFn,
        entry: &[usize],
    ) {
        // Relaxed: only the owner writes `seq`.
        let seq = slot.seq.load(Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Orders the odd `seq` before the load of `block`; pairs with the
        // stealer's heavy barrier after it swapped `block` to null.
        crate::sys::light_barrier();
        // Relaxed: a non-null value was stored by this thread.
        let b = slot.block.load(Ordering::Relaxed);
        let after = match NonNull::new(b) {
            // SAFETY: the open block is ours while `seq` is odd (a stealer
            // that swapped it out waits for our even `seq` before using it).
            // The first object of a block goes through the slow path, which
            // marks the slot dirty for the drain timer.
            // So does every object while the reserve is the open block, so
            // that it is handed back as soon as the caller may block again.
            // (`try_append_fast` refuses both: see `block.rs`.)
            Some(b) if unsafe { Block::try_append_fast(b, drop, entry) } => AfterAppend::Done,
            _ => self.append_slow(engine, slot, drop, entry),
        };
        // Release pairs with the stealer's Acquire load of `seq`: the
        // entries written above are visible to it.
        slot.seq.store(seq.wrapping_add(2), Ordering::Release);
        match after {
            AfterAppend::Done => {}
            AfterAppend::Throttle => engine.reclaimer.throttle_if_allowed(engine),
            AfterAppend::Collect => self.collect_own(engine, slot),
            AfterAppend::DrainStep => self.drain_step(engine, slot),
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
    fn append_slow<F: Flavour>(
        &self,
        engine: &'static Engine<F>,
        slot: &'static KvfreeSlot,
        drop: DropFn,
        entry: &[usize],
    ) -> AfterAppend {
        let mut after = AfterAppend::Done;
        // Relaxed: a non-null value was stored by this thread.
        if let Some(b) = NonNull::new(slot.block.load(Ordering::Relaxed)) {
            // SAFETY: ours while `seq` is odd (see `append`).
            let reserve_done = unsafe { b.as_ref().is_reserve } && engine.may_block();
            // SAFETY: as above.
            if !reserve_done && unsafe { Block::append(b, drop, entry) } {
                self.mark_dirty(engine, slot, b);
                return Self::checkpoint(slot, b, after);
            }
            // Full, or the reserve in use while the caller may block again
            // (emergency over: hand the reserve back through a grace period).
            // A stealer may have taken it meanwhile (then it seals it).
            // AcqRel: pairs with the stealer's swap.
            if let Some(old) = NonNull::new(slot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
                slot.dirty_since.store(0, Ordering::Relaxed);
                if reserve_done {
                    if self.seal(engine, old, SealReason::ReserveReturn) {
                        after = AfterAppend::Throttle;
                    }
                } else if engine.may_block() && !crate::reclaim::in_reclaim_thread() {
                    self.seal_to_own_list(engine, slot, old);
                    after = AfterAppend::Collect;
                } else if self.seal(engine, old, SealReason::Full) {
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
        let stored = unsafe { Block::append(fresh, drop, entry) };
        debug_assert!(stored, "an empty block takes any single object");
        // Release: a timer stealer reads the block's (immutable) reserve
        // flag after an Acquire load of this pointer; the block's entries are
        // published to stealers by the `seq` protocol (see "steal").
        slot.block.store(fresh.as_ptr(), Ordering::Release);
        self.mark_dirty(engine, slot, fresh);
        Self::checkpoint(slot, fresh, after)
    }

    /// Sets the open block's fast-append bound: a few objects ahead while
    /// the owner has ready objects to free (see "Interleaved freeing"),
    /// else its capacity.
    fn checkpoint(slot: &KvfreeSlot, b: NonNull<Block>, after: AfterAppend) -> AfterAppend {
        // Relaxed: owner-only.
        let words = match slot.drain_mode.load(Ordering::Relaxed) {
            DRAIN_IDLE => None,
            DRAIN_WAITING => Some(DRAIN_POLL_WORDS),
            // This append and `DRAIN_STEP - 1` more per step: as many
            // objects allocated as freed, all through the thread cache.
            _ => Some(DRAIN_STEP - 1),
        };
        // SAFETY: the open block is ours while `seq` is odd.
        unsafe { Block::set_limit(b, words) };
        match after {
            AfterAppend::Done if words.is_some() => AfterAppend::DrainStep,
            other => other,
        }
    }

    /// No cached, fresh or reserve block: emergency branches 1 and 3.
    #[cold]
    fn no_block<F: Flavour>(&self, engine: &'static Engine<F>, drop: DropFn, entry: &[usize]) -> AfterAppend {
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
    fn mark_dirty<F: Flavour>(&self, engine: &'static Engine<F>, slot: &KvfreeSlot, b: NonNull<Block>) {
        // SAFETY: ours while `seq` is odd.
        if unsafe { b.as_ref().objects() == 1 && !b.as_ref().is_reserve } {
            // SeqCst: see `earliest_dirty`.
            slot.dirty_since.store(crate::sys::monotonic_ns().max(1), Ordering::SeqCst);
            engine.reclaimer.wake_for_timer(engine);
        }
    }

    fn take_cached(&self, slot: &KvfreeSlot) -> Option<NonNull<Block>> {
        if crate::fault::cache_fails() {
            return None;
        }
        loop {
            // Acquire pairs with the Release push in `recycle`: the block's
            // emptied header is visible.
            let head = NonNull::new(slot.cache.load(Ordering::Acquire))?;
            // SAFETY: cached blocks stay allocated while on the stack; only
            // the owner pops, so `head` cannot be popped and freed under us
            // (no ABA: the reclaim thread only pushes).
            let next = unsafe { head.as_ref().next };
            if slot.cache.compare_exchange(head.as_ptr(), next, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                slot.cache_len.fetch_sub(1, Ordering::Relaxed);
                return Some(head);
            }
        }
    }

    /// Emergency branch 2: the reserve becomes the open block.
    fn take_reserve<F: Flavour>(&self, engine: &'static Engine<F>, slot: &KvfreeSlot) -> Option<NonNull<Block>> {
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
    pub(crate) fn seal<F: Flavour>(&self, engine: &'static Engine<F>, b: NonNull<Block>, reason: SealReason) -> bool {
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

    /// Seals a full block onto the owner's own list (see "Producer-side
    /// freeing"). Inside the append section, so that `rcu_barrier` finds it.
    fn seal_to_own_list<F: Flavour>(&self, engine: &'static Engine<F>, slot: &KvfreeSlot, b: NonNull<Block>) {
        // The cookie as in `seal`.
        // SAFETY: the caller owns the open block and never appends again.
        let sealed = unsafe { SealedBlock::seal(b, engine.sequence().snapshot()) };
        let cookie = sealed.cookie();
        self.counters.objects_sealed.fetch_add(sealed.objects() as u64, Ordering::Relaxed);
        self.counters.blocks_sealed[SealReason::Full as usize].fetch_add(1, Ordering::Relaxed);
        slot.sealed.lock().push(sealed);
        // Relaxed: owner-only; at least check from now on.
        if slot.drain_mode.load(Ordering::Relaxed) == DRAIN_IDLE {
            slot.drain_mode.store(DRAIN_WAITING, Ordering::Relaxed);
        }
        // SeqCst: see `earliest_dirty` and `wanted`; `note_sealed` then
        // reads `sleeping` (store-buffering pair with `Reclaimer::idle`).
        slot.sealed_since.store(crate::sys::monotonic_ns().max(1), Ordering::SeqCst);
        self.wanted.fetch_max(cookie.seq(), Ordering::SeqCst);
        // The per-thread bound (`collect_own`) replaces the global hard
        // limit for this thread's own blocks.
        let _ = engine.reclaimer.note_sealed(engine);
    }

    /// Frees the owner's ready blocks, after its append section (see
    /// "Producer-side freeing"); waits for the oldest block's grace period
    /// while the list holds [`OWNER_SEALED_BLOCKS`] or more.
    #[cold]
    #[inline(never)]
    fn collect_own<F: Flavour>(&self, engine: &'static Engine<F>, slot: &'static KvfreeSlot) {
        // Relaxed: only the owner writes `collect_seq`.
        let seq = slot.collect_seq.load(Ordering::Relaxed);
        if seq & 1 == 1 {
            return; // called from a destructor the outer call runs
        }
        if slot.sealed.lock().len < OWNER_SEALED_BLOCKS {
            return self.drain_step(engine, slot);
        }
        loop {
            let (ready, oldest_if_full) = {
                let mut list = slot.sealed.lock();
                let mut ready = list.take_ready(|c| engine.poll(c));
                if let Some(d) = NonNull::new(std::mem::replace(&mut list.draining, std::ptr::null_mut())) {
                    // No claim of ours is outstanding (`collect_seq` even).
                    // SAFETY: the draining block was owned by the list.
                    unsafe { (*d.as_ptr()).next = ready };
                    ready = d.as_ptr();
                }
                if !ready.is_null() {
                    // Relaxed: published by the unlock (Release) to a
                    // stealer that takes the lock after (Acquire).
                    slot.collect_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
                }
                let since = if list.len == 0 { 0 } else { crate::sys::monotonic_ns().max(1) };
                // SeqCst: see `earliest_dirty`.
                slot.sealed_since.store(since, Ordering::SeqCst);
                (ready, list.oldest_cookie().filter(|_| list.len >= OWNER_SEALED_BLOCKS))
            };
            if !ready.is_null() {
                self.free_list(engine, ready);
                // Release pairs with the Acquire load in `wait_for_collect`:
                // every drop above happens-before a barrier's return.
                slot.collect_seq.store(seq.wrapping_add(2), Ordering::Release);
                engine.reclaimer.wake_throttled();
            }
            match oldest_if_full {
                Some(cookie) => {
                    self.counters.owner_waits.fetch_add(1, Ordering::Relaxed);
                    engine.wait_for(cookie);
                }
                None => return,
            }
        }
    }

    /// Frees up to [`DRAIN_STEP`] objects of the owner's ready blocks, after
    /// its append section (see "Interleaved freeing").
    #[cold]
    #[inline(never)]
    fn drain_step<F: Flavour>(&self, engine: &'static Engine<F>, slot: &'static KvfreeSlot) {
        // Relaxed: only the owner writes `collect_seq`.
        let seq = slot.collect_seq.load(Ordering::Relaxed);
        if seq & 1 == 1 {
            return; // called from a destructor the outer call runs
        }
        let mut list = slot.sealed.lock();
        let (d, claim) = loop {
            let d = match NonNull::new(list.draining) {
                Some(d) => d,
                None => match list.take_one_ready(|c| engine.poll(c)) {
                    Some(d) => {
                        list.draining = d.as_ptr();
                        d
                    }
                    None => {
                        let mode = if list.head.is_null() { DRAIN_IDLE } else { DRAIN_WAITING };
                        // Relaxed: owner-only.
                        slot.drain_mode.store(mode, Ordering::Relaxed);
                        drop(list);
                        self.flush_freed(engine, slot);
                        return;
                    }
                },
            };
            // SAFETY: the draining block is ready; its cursor is guarded by
            // the list lock we hold.
            // Falling behind (half the bound waits): free faster, before the
            // owner has to free whole blocks and wait.
            let max = if list.len >= OWNER_SEALED_BLOCKS / 2 { 4 * DRAIN_STEP } else { DRAIN_STEP };
            match unsafe { Block::claim(d, max) } {
                Some(claim) => {
                    // Relaxed: owner-only.
                    slot.drain_mode.store(DRAIN_ACTIVE, Ordering::Relaxed);
                    break (d, claim);
                }
                None => {
                    // Every object claimed and dropped (no claim of ours is
                    // outstanding): the block is ours.
                    list.draining = std::ptr::null_mut();
                    self.finish_drained(engine, d);
                }
            }
        };
        // Relaxed: published by the unlock (Release) to a stealer that takes
        // the lock after (Acquire), as in `collect_own`.
        slot.collect_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        drop(list);
        debug_assert!(
            // SAFETY: a stealer that takes the block waits for our even
            // `collect_seq` before handing it on, so it stays allocated.
            engine.poll(unsafe { d.as_ref().cookie }),
            "rcu_{}: kvfree object freed before its grace period",
            F::NAME
        );
        let mut panics = 0;
        // SAFETY: claimed above from a ready block that stays allocated (as
        // above); dropped once.
        let n = unsafe { Block::drop_claim(d, claim, F::NAME, &mut panics) };
        // Counted on the slot's own line and flushed to the shared counter
        // now and then: a shared read-modify-write every few objects made
        // that line bounce between flooding threads. Relaxed: ordered
        // before the Release store below, which a barrier's flush follows.
        let unflushed = slot.freed_unflushed.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if panics > 0 {
            self.counters.drop_panics.fetch_add(panics, Ordering::Relaxed);
        }
        // Release pairs with the Acquire load in `wait_for_collect`.
        slot.collect_seq.store(seq.wrapping_add(2), Ordering::Release);
        if unflushed >= FLUSH_FREED_OBJECTS {
            self.flush_freed(engine, slot);
        }
    }

    /// Adds the objects `slot`'s owner freed since the last flush to the
    /// shared counter (the backlog and statistics).
    fn flush_freed<F: Flavour>(&self, engine: &'static Engine<F>, slot: &KvfreeSlot) {
        // Relaxed: the count is ordered by the callers (see `drain_step`).
        let n = slot.freed_unflushed.swap(0, Ordering::Relaxed);
        if n > 0 {
            // SeqCst: as in `free_block_by` (the throttle's pair).
            self.counters.objects_freed.fetch_add(n, Ordering::SeqCst);
            engine.reclaimer.wake_throttled();
        }
    }

    /// A draining block whose objects were all dropped by its owner.
    fn finish_drained<F: Flavour>(&self, engine: &'static Engine<F>, d: NonNull<Block>) {
        // SAFETY: owned by the caller, every object dropped.
        unsafe { Block::reset(d) };
        self.counters.blocks_freed.fetch_add(1, Ordering::Relaxed);
        self.counters.blocks_freed_by_owner.fetch_add(1, Ordering::Relaxed);
        self.recycle(engine, d, true);
    }

    /// Frees a detached list of sealed blocks whose grace period completed.
    fn free_list<F: Flavour>(&self, engine: &'static Engine<F>, first: *mut Block) {
        let mut next = first;
        while let Some(b) = NonNull::new(next) {
            // SAFETY: detached from a list, so owned here; the link is read
            // before the block is recycled.
            next = unsafe { b.as_ref().next };
            // SAFETY: every listed block is sealed.
            self.free_block_by(engine, unsafe { SealedBlock::from_raw(b) }, true);
        }
    }

    /// Hands a detached list of sealed blocks to the reclaim thread.
    fn push_inbox_list(&self, first: *mut Block) {
        let mut next = first;
        while let Some(b) = NonNull::new(next) {
            // SAFETY: detached, so owned here; read before the push relinks it.
            next = unsafe { b.as_ref().next };
            // SAFETY: every listed block is sealed.
            self.push_inbox(unsafe { SealedBlock::from_raw(b) });
        }
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
    pub(crate) fn owner_exit<F: Flavour>(&self, engine: &'static Engine<F>, slot: &'static KvfreeSlot) {
        // AcqRel: pairs with a concurrent stealer's swap.
        if let Some(b) = NonNull::new(slot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
            slot.dirty_since.store(0, Ordering::Relaxed);
            self.seal_or_recycle(engine, b, SealReason::ThreadExit);
        }
        self.flush_freed(engine, slot);
        let own = slot.sealed.lock().take_all();
        if !own.is_null() {
            slot.sealed_since.store(0, Ordering::Relaxed);
            self.push_inbox_list(own);
            let _ = engine.reclaimer.note_sealed(engine);
        }
        self.slots.release(slot);
    }

    fn seal_or_recycle<F: Flavour>(&self, engine: &'static Engine<F>, b: NonNull<Block>, reason: SealReason) {
        // SAFETY: the caller owns `b`.
        if unsafe { b.as_ref().objects() } > 0 {
            self.seal(engine, b, reason);
        } else {
            self.recycle(engine, b, false);
        }
    }

    /// Seals partial blocks of other threads, idle or not, without racing
    /// with their owners (see "steal"), and takes their own lists of sealed
    /// blocks. `only_older_than`: the drain timer's mode, taking only blocks
    /// dirty (lists untouched) for at least that many ns (never an emergency
    /// reserve, which does not arm the timer). Otherwise (`rcu_barrier`)
    /// every open block and list is taken, every append in progress anywhere
    /// is waited out first (so that a block its owner is sealing right now is
    /// taken too), then every owner's free in progress (see "Producer-side
    /// freeing"), so that all is in the inbox or freed before the barrier's
    /// marker is queued. Steals are serialised: a barrier never overtakes a
    /// steal in progress.
    pub(crate) fn steal_partial_blocks<F: Flavour>(
        &self,
        engine: &'static Engine<F>,
        reason: SealReason,
        only_older_than: Option<u64>,
    ) -> usize {
        let _serial = self.steal_lock.lock();
        let now = crate::sys::monotonic_ns();
        let is_old = |since: u64| only_older_than.is_none_or(|age| since != 0 && now.saturating_sub(since) >= age);
        let mut stolen: *mut Block = std::ptr::null_mut();
        let mut any_slot = false;
        // Every slot, claimed or not: a forked child's slots of vanished
        // threads are released with their partial block still in place.
        for slot in self.slots.slots() {
            any_slot |= slot.in_use.load(Ordering::Relaxed);
            // SeqCst: see `earliest_dirty`.
            if !is_old(slot.dirty_since.load(Ordering::SeqCst)) {
                continue;
            }
            // AcqRel: pairs with the owner's swap in `append_slow`/`owner_exit`.
            if let Some(b) = NonNull::new(slot.block.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
                slot.dirty_since.store(0, Ordering::Relaxed);
                // SAFETY: the block is ours now (its header's `next` is only
                // used by lists, and it is in none while open).
                unsafe { (*b.as_ptr()).next = stolen };
                stolen = b.as_ptr();
            }
        }
        let barrier_mode = only_older_than.is_none();
        if barrier_mode && any_slot || !stolen.is_null() {
            // Pairs with the owners' light barrier after their odd `seq`.
            crate::sys::heavy_barrier();
            if barrier_mode {
                self.slots.slots().for_each(wait_for_append_to_finish);
            }
        }
        let own_lists = self.take_own_lists(engine, &is_old, barrier_mode);
        let mut n = 0;
        while let Some(b) = NonNull::new(stolen) {
            // SAFETY: stolen above; home is the slot it was taken from.
            let (next, home) = unsafe { (b.as_ref().next, &*b.as_ref().home) };
            wait_for_append_to_finish(home);
            stolen = next;
            self.seal_or_recycle(engine, b, reason);
            n += 1;
        }
        if !own_lists.is_null() {
            self.push_inbox_list(own_lists);
            let _ = engine.reclaimer.note_sealed(engine);
        }
        n
    }

    /// Takes the own lists that `is_old` selects (by `sealed_since`), as one
    /// detached list; in barrier mode also waits out owners' frees in
    /// progress (except the caller's own: it may be inside one).
    fn take_own_lists<F: Flavour>(
        &self,
        engine: &'static Engine<F>,
        is_old: &impl Fn(u64) -> bool,
        barrier_mode: bool,
    ) -> *mut Block {
        let caller = F::kvfree_key().try_with(SlotPtr::get).ok().flatten();
        let mut taken: *mut Block = std::ptr::null_mut();
        for slot in self.slots.slots() {
            // SeqCst: see `earliest_dirty`.
            if !is_old(slot.sealed_since.load(Ordering::SeqCst)) {
                continue;
            }
            let is_caller = caller.is_some_and(|c| std::ptr::eq(c, slot));
            let first = {
                let mut list = slot.sealed.lock();
                // Relaxed: the owner sets it odd under this lock.
                let claiming = slot.collect_seq.load(Ordering::Relaxed) & 1 == 1;
                if claiming && (!barrier_mode || is_caller) {
                    // The owner is dropping objects it claimed in its
                    // draining block, which must stay allocated: leave that
                    // block (the timer retries; see "Interleaved freeing").
                    let draining = std::mem::replace(&mut list.draining, std::ptr::null_mut());
                    let first = list.take_all();
                    list.draining = draining;
                    let since = if draining.is_null() { 0 } else { crate::sys::monotonic_ns().max(1) };
                    // SeqCst: see `earliest_dirty`.
                    slot.sealed_since.store(since, Ordering::SeqCst);
                    first
                } else {
                    slot.sealed_since.store(0, Ordering::Relaxed);
                    list.take_all()
                }
            };
            let mut last = first;
            // SAFETY: the detached blocks are ours.
            unsafe {
                while let Some(b) = NonNull::new(last).filter(|b| !b.as_ref().next.is_null()) {
                    last = b.as_ref().next;
                }
                if let Some(l) = NonNull::new(last) {
                    (*l.as_ptr()).next = taken;
                    taken = first;
                }
            }
            if barrier_mode && !is_caller {
                wait_for_collect(slot);
            }
            if barrier_mode {
                // After the wait: every drop of the owner's finished steps is
                // counted when the barrier returns.
                self.flush_freed(engine, slot);
            }
        }
        taken
    }

    // ----- the reclaim thread's side ------------------------------------------

    /// Frees the objects of a block whose grace period completed, then
    /// recycles the block.
    pub(crate) fn free_block<F: Flavour>(&self, engine: &'static Engine<F>, sealed: SealedBlock) {
        self.free_block_by(engine, sealed, false);
    }

    /// [`Self::free_block`]; `by_owner`: the block's home thread frees it
    /// (see `recycle`).
    fn free_block_by<F: Flavour>(&self, engine: &'static Engine<F>, sealed: SealedBlock, by_owner: bool) {
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
        if by_owner {
            self.counters.blocks_freed_by_owner.fetch_add(1, Ordering::Relaxed);
        }
        if panics > 0 {
            self.counters.drop_panics.fetch_add(panics, Ordering::Relaxed);
        }
        self.recycle(engine, b, by_owner);
    }

    /// An empty block goes back to its home slot (reserve, or cache if
    /// there is room and memory is not under pressure), or is deallocated.
    /// A block its owner freed (`by_owner`) is cached up to
    /// [`OWNER_CACHED_BLOCKS`] whatever the backlog: the owner is producing
    /// and takes it again within a few hundred objects, while deallocating
    /// and allocating a page-sized block costs far more than its page (in
    /// glibc a large request first consolidates every small free chunk).
    fn recycle<F: Flavour>(&self, engine: &'static Engine<F>, b: NonNull<Block>, by_owner: bool) {
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
        } else if by_owner && home.cache_len.load(Ordering::Relaxed) < OWNER_CACHED_BLOCKS
            || !engine.reclaimer.under_pressure(engine)
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
            // Acquire pairs with the Release pushes in `recycle`; taking the
            // whole stack at once races with no pop (the owner's pop CAS
            // then fails and retries on the empty stack).
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
    /// `fork()` support: hold the steal lock and every own-list lock
    /// across the fork (in that order, as stealers take them; an owner
    /// holds its list lock only briefly and with no other lock).
    pub(crate) fn lock_for_fork(&self) {
        self.steal_lock.raw_lock();
        self.slots.slots().for_each(|s| s.sealed.raw_lock());
    }

    /// `fork()` support, parent side.
    pub(crate) fn unlock_after_fork_parent(&self) {
        // SAFETY: taken by `lock_for_fork` on this thread; no guard exists.
        unsafe {
            self.slots.slots().for_each(|s| s.sealed.raw_unlock());
            self.steal_lock.raw_unlock();
        }
    }

    /// `fork()` support, child side: the slots of threads that do not
    /// exist here are released; an append or a free of own blocks they were
    /// in the middle of is abandoned (its objects leak in the child's copy),
    /// and their partial blocks and own lists stay in place for the next
    /// drain or `rcu_barrier`.
    /// `pending` is what the reclaim thread's list still holds (blocks,
    /// objects); the counters are recomputed from it and the inbox, since a
    /// block the parent was freeing at the fork is lost to the child.
    pub(crate) fn reset_after_fork_child(&self, keep: Option<&KvfreeSlot>, pending: (u64, u64)) {
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
        for slot in self.slots.slots() {
            // SAFETY: taken by `lock_for_fork` before the fork, by this
            // thread; the child is single-threaded here.
            let (b, o) = unsafe { (*slot.sealed.value_ptr()).count() };
            blocks += b;
            objects += o;
            // SAFETY: as above.
            unsafe { slot.sealed.raw_unlock() };
        }
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        unsafe { self.steal_lock.raw_unlock() };
        let c = &self.counters;
        let sealed_objects = c.objects_sealed.load(Ordering::Relaxed);
        c.objects_freed.store(sealed_objects.saturating_sub(objects), Ordering::Relaxed);
        let sealed_blocks: u64 = c.blocks_sealed.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        c.blocks_freed.store(sealed_blocks.saturating_sub(blocks), Ordering::Relaxed);
        for slot in self.slots.slots() {
            // Counted in the recomputation above (or lost with their thread).
            slot.freed_unflushed.store(0, Ordering::Relaxed);
            if keep.is_some_and(|k| std::ptr::eq(k, slot)) {
                continue;
            }
            // Relaxed: the child is single-threaded here.
            let seq = slot.seq.load(Ordering::Relaxed);
            slot.seq.store(seq & !1, Ordering::Relaxed);
            let seq = slot.collect_seq.load(Ordering::Relaxed);
            slot.collect_seq.store(seq & !1, Ordering::Relaxed);
            slot.in_use.store(false, Ordering::Relaxed);
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl<T: ?Sized> Sealed for Box<T> {}
    impl<T> Sealed for Vec<T> {}
}

/// An object type-erased for a kvfree block: its drop function and the
/// words of its raw parts (1 to 3 of `words` used).
#[derive(Debug)]
pub struct Entry {
    pub(crate) drop: DropFn,
    pub(crate) words: [usize; MAX_ARITY],
    pub(crate) arity: usize,
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
        let mut words = [0usize; MAX_ARITY];
        const { assert!(std::mem::size_of::<*mut T>() <= MAX_ARITY * std::mem::size_of::<usize>()) };
        // SAFETY: a raw (possibly fat) pointer fits in the words (checked
        // above) and is plain data; `drop_box::<T>` reads it back once.
        unsafe { words.as_mut_ptr().cast::<*mut T>().write(Box::into_raw(self)) };
        Entry { drop: drop_box::<T>, words, arity: std::mem::size_of::<*mut T>() / std::mem::size_of::<usize>() }
    }
}

impl<T: Send + 'static> RcuFree for Vec<T> {
    #[inline]
    fn into_entry(self) -> Entry {
        let mut v = std::mem::ManuallyDrop::new(self);
        Entry { drop: drop_vec::<T>, words: [v.as_mut_ptr() as usize, v.len(), v.capacity()], arity: 3 }
    }
}

/// Claims the calling thread's kvfree slot with its reserve.
pub(crate) fn claim_slot(kv: &'static Kvfree) -> &'static KvfreeSlot {
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

/// Waits until the owner of `slot` is not freeing blocks it took off its
/// own list before the caller took the list's lock.
fn wait_for_collect(slot: &KvfreeSlot) {
    // Acquire pairs with the owner's Release store of an even
    // `collect_seq` (an odd value was published by the list lock).
    let seq = slot.collect_seq.load(Ordering::Acquire);
    if seq & 1 == 0 {
        return;
    }
    let backoff = crossbeam_utils::Backoff::new();
    while slot.collect_seq.load(Ordering::Acquire) == seq {
        backoff.snooze();
    }
}

/// Waits until the owner of `slot` is not inside an append that began
/// before the stealer's heavy barrier.
fn wait_for_append_to_finish(slot: &KvfreeSlot) {
    // Acquire pairs with the owner's Release store of an even `seq`.
    let seq = slot.seq.load(Ordering::Acquire);
    if seq & 1 == 0 {
        return;
    }
    let backoff = crossbeam_utils::Backoff::new();
    while slot.seq.load(Ordering::Acquire) == seq {
        backoff.snooze();
    }
}
