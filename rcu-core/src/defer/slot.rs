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
//! A second bracket word, `drain_seq`, works the same way for the
//! `draining` list of ready blocks the owner drops a few objects at a time
//! (`kvfree/hand_back.rs`; [`wait_for_drain_to_finish`]). It is separate
//! so that a destructor run inside it may append (`seq`) again.
//!
//! The fields of the kvfree part are used by `kvfree/`; those of the list
//! by `local_callbacks.rs`; the brackets by both, through this module.

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
    /// Odd while the owner drops objects of ready blocks handed back to it
    /// (`kvfree/hand_back.rs`): a second bracket like `seq`, for the
    /// `draining` list. Odd also tells a destructor's own `kvfree_rcu` not
    /// to start dropping again, and its `rcu_barrier` that it would wait
    /// for itself.
    pub(crate) drain_seq: AtomicU32,
    /// The ready blocks the owner is dropping, a few objects per
    /// `kvfree_rcu` call, linked through their headers; the first one's
    /// drop cursor says how far it got. Only the owner stores non-null;
    /// the reclaim thread takes the list with a swap (`drain_seq` bracket).
    pub(crate) draining: AtomicPtr<SlotBlock>,
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
    /// stack that the reclaim thread and an exiting owner push and that
    /// either takes whole (a swap), so it has no ABA.
    pub(crate) ready: AtomicPtr<SlotBlock>,
    /// Blocks handed back and not yet emptied (on `ready` or `draining`):
    /// bounds hand-backs, and keeps the reclaim thread's drain timer armed.
    pub(crate) ready_len: AtomicU32,
    /// When the reclaim thread last saw this slot's hand-backs start or
    /// move (ns), and the `drain_seq` it saw then: read and written by the
    /// reclaim thread only (it takes back what an idle owner left).
    pub(crate) ready_since: AtomicU64,
    pub(crate) drain_seen: AtomicU32,
    /// A `draining` list the reclaim thread swapped off, kept here until
    /// the owner's bracket is over, and whether it is taking from this
    /// slot (reclaim thread only).
    pub(crate) taken: AtomicPtr<SlotBlock>,
    pub(crate) taking: AtomicBool,
}

impl DeferSlot {
    /// Whether the calling thread, the owner, is inside its own drain
    /// bracket (running a destructor for `kvfree_rcu`). Owner only.
    #[inline]
    pub(crate) fn is_draining(&self) -> bool {
        // Relaxed: only the owner writes `drain_seq`.
        self.hot.drain_seq.load(Ordering::Relaxed) & 1 == 1
    }

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
            drain_seq: AtomicU32::new(0),
            draining: AtomicPtr::new(std::ptr::null_mut()),
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
        drain_seen: AtomicU32::new(0),
        taken: AtomicPtr::new(std::ptr::null_mut()),
        taking: AtomicBool::new(false),
    };
    fn in_use(&self) -> &AtomicBool {
        &self.in_use
    }
}

/// Runs `f` inside the owner's `seq` bracket of `slot` (see "The bracket").
#[inline(always)]
pub(crate) fn owner_section<R>(slot: &DeferSlot, f: impl FnOnce() -> R) -> R {
    bracket(&slot.hot.seq, f)
}

/// Runs `f` inside the owner's `drain_seq` bracket of `slot`: the same
/// protocol as `seq`'s, for the `draining` list.
#[inline(always)]
pub(crate) fn drain_section<R>(slot: &DeferSlot, f: impl FnOnce() -> R) -> R {
    bracket(&slot.hot.drain_seq, f)
}

/// `seq` odd, a light barrier, `f`, then `seq` even with Release.
#[inline(always)]
fn bracket<R>(seq_word: &AtomicU32, f: impl FnOnce() -> R) -> R {
    // Relaxed: only the owner writes its bracket words.
    let seq = seq_word.load(Ordering::Relaxed);
    // Release (a plain store on x86, as Relaxed): a stealer's wait that
    // reads this odd value of a later bracket, the one it waited for being
    // over, is then ordered after that one too (release sequences hold
    // read-modify-writes only; rcu-core/tests/loom_hand_back.rs).
    seq_word.store(seq.wrapping_add(1), Ordering::Release);
    // Orders the odd word before `f`'s loads of what a stealer swaps
    // (`block`, the callback list, `draining`); pairs with the stealer's
    // heavy barrier after its swaps.
    crate::sys::light_barrier();
    let r = f();
    // Release pairs with the stealer's Acquire load in `wait_for_even`:
    // what `f` wrote (block entries, list links, a drop cursor, and the
    // destructors it ran) happens before the stealer goes on.
    seq_word.store(seq.wrapping_add(2), Ordering::Release);
    r
}

/// Waits until the owner of `slot` is not inside an append that began
/// before the stealer's heavy barrier.
pub(crate) fn wait_for_append_to_finish(slot: &DeferSlot) {
    wait_for_even(&slot.hot.seq);
}

/// Waits until the owner of `slot` is not inside a drain step that began
/// before the stealer's heavy barrier.
pub(crate) fn wait_for_drain_to_finish(slot: &DeferSlot) {
    wait_for_even(&slot.hot.drain_seq);
}

fn wait_for_even(seq_word: &AtomicU32) {
    // Acquire pairs with the owner's Release store of an even value.
    let seq = seq_word.load(Ordering::Acquire);
    if seq & 1 == 0 {
        return;
    }
    let backoff = crossbeam_utils::Backoff::new();
    while seq_word.load(Ordering::Acquire) == seq {
        backoff.snooze();
    }
}
