//! One thread's deferral slot: its open kvfree block (with the block cache
//! and emergency reserve) and its own `call_rcu` list, and the `seq`
//! bracket that lets another thread take either while the owner lives.
//!
//! # The bracket
//!
//! The owner's append is bracketed like a memb read-side section: `seq`
//! odd during the append, a light barrier after the odd store, then the
//! load of `block` (or of the list). A stealer swaps `block` to null (or
//! marks the list stolen), issues a heavy barrier (pairs with the owner's
//! light barrier), then waits until `seq` is even or has moved
//! ([`wait_for_append_to_finish`]): either the owner's load saw the steal
//! (it starts afresh) or its append finished before the stealer reads the
//! block. `seq`'s even store is `Release` and the stealer's load `Acquire`,
//! so the stealer sees every entry written.
//!
//! The fields of the kvfree part are used by `kvfree/`; those of the list
//! by `local_callbacks.rs`; the bracket by both, through this module.

use super::block::Block;
use super::callback::{CallbackFn, RcuHead};
use super::local_callbacks::{Appended, ListEnd, LocalCallbacks};
use crate::reader::registry::Slot;
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// A kvfree block that returns to a deferral slot.
pub(crate) type SlotBlock = Block<DeferSlot>;

/// What the owner writes on every append, on cache lines of its own: the
/// reclaim thread reads the rest of the slot (`dirty_since`, the callback
/// list's `first`) on every pass, and sharing a line with those reads would
/// cost the owner a cache miss per `call_rcu`.
pub(crate) struct OwnerHot {
    /// Odd while the owner appends (see "The bracket").
    pub(crate) seq: AtomicU32,
    /// The open block, or null. Only the owner stores non-null.
    pub(crate) block: AtomicPtr<SlotBlock>,
    /// The owner's end of its callback list.
    pub(crate) callbacks_end: ListEnd,
    /// Set while the owner drops the objects of ready blocks handed back
    /// to it (`kvfree/hand_back.rs`): a destructor that retires again does
    /// not start a second round, and one that calls `rcu_barrier` is told
    /// it would wait for itself. Owner-only (a forked child resets it).
    pub(crate) freeing: AtomicBool,
}

/// One thread's deferral slot: its open kvfree block and its `call_rcu`
/// list, both stolen through the `seq` bracket (see the module docs).
#[repr(C)]
pub struct DeferSlot {
    pub(crate) hot: CachePadded<OwnerHot>,
    pub(crate) in_use: AtomicBool,
    /// Monotonic time (ns) of the first object in the open block; 0 when
    /// the block is empty or absent. Drives the drain timer.
    pub(crate) dirty_since: AtomicU64,
    /// The emergency reserve block, or null while in use.
    pub(crate) reserve: AtomicPtr<SlotBlock>,
    /// Empty blocks: a stack the reclaim thread pushes and the owner pops.
    pub(crate) cache: AtomicPtr<SlotBlock>,
    pub(crate) cache_len: AtomicU32,
    /// Held by the owner's pop and by `drop_caches` (any thread): without
    /// it, `drop_caches` could free the head a pop had loaded, and a block
    /// pushed again at that address would let the pop's exchange succeed
    /// with a stale link (ABA). Held for a few instructions; its holder
    /// never waits for anything.
    pub(crate) cache_busy: AtomicBool,
    /// The thread's own `call_rcu` list (see `local_callbacks.rs`), worked
    /// on inside the same `seq` bracket as the open block; its owner-only
    /// end is in `hot`.
    pub(crate) callbacks: LocalCallbacks,
    /// Sealed blocks whose grace period has completed, handed back by the
    /// reclaim thread for the owner to free (`kvfree/hand_back.rs`): a
    /// stack that the reclaim thread and the owner push and that either
    /// takes whole (a swap), so it has no ABA.
    pub(crate) ready: AtomicPtr<SlotBlock>,
    /// Blocks on `ready` or being freed by the owner (an estimate that
    /// bounds hand-backs).
    pub(crate) ready_len: AtomicU32,
    /// When the reclaim thread pushed onto an empty `ready` (ns); read and
    /// written by the reclaim thread only (takes back an idle owner's).
    pub(crate) ready_since: AtomicU64,
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
            freeing: AtomicBool::new(false),
        }),
        in_use: AtomicBool::new(false),
        dirty_since: AtomicU64::new(0),
        reserve: AtomicPtr::new(std::ptr::null_mut()),
        cache: AtomicPtr::new(std::ptr::null_mut()),
        cache_len: AtomicU32::new(0),
        cache_busy: AtomicBool::new(false),
        callbacks: LocalCallbacks::new(),
        ready: AtomicPtr::new(std::ptr::null_mut()),
        ready_len: AtomicU32::new(0),
        ready_since: AtomicU64::new(0),
    };
    fn in_use(&self) -> &AtomicBool {
        &self.in_use
    }
}

/// Runs `f` inside the owner's `seq` bracket of `slot` (see "The bracket"):
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
pub(crate) fn wait_for_append_to_finish(slot: &DeferSlot) {
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
