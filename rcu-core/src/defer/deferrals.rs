//! Every thread's deferral slot, the shared callback queue and the reclaim
//! thread's doorbell, for one flavour; and taking from live owners
//! ("steal", through the bracket of `slot.rs`).
//!
//! The drain timer and `rcu_barrier` seal partial kvfree blocks of threads
//! that are alive but idle; `rcu_barrier` and the reclaim thread (when
//! nothing else is pending) take their partial callback lists. One steal
//! takes both with one heavy barrier. Steals are serialised: a barrier
//! never overtakes a steal in progress.

use super::block::{Block, SealReason, RESERVE_BYTES};
use super::callback::{CallbackFn, RcuHead};
use super::local_callbacks::Appended;
use super::queue::CallbackQueue;
use super::slot::{owner_section, wait_for_append_to_finish, DeferSlot, SlotBlock};
use super::wake::ReclaimWake;
use crate::reader::registry::Registry;
use crate::sys::lock::ForkSafeMutex;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// One flavour's deferral slots, shared queue and doorbell.
pub(crate) struct Deferrals {
    pub(crate) slots: Registry<DeferSlot>,
    /// Callbacks handed over by their threads, for the reclaim thread.
    pub(crate) queue: CallbackQueue,
    /// How producers wake the reclaim thread.
    pub(crate) wake: ReclaimWake,
    /// Serialises steals.
    steal_lock: ForkSafeMutex<()>,
}

impl std::fmt::Debug for Deferrals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferrals").field("slots", &self.slots).finish_non_exhaustive()
    }
}

/// What [`Deferrals::look_at_callback_lists`] saw.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallbackLists {
    /// No thread has a partial list.
    None,
    /// Some have, and their owners appended since the previous look.
    Busy,
    /// Some list's owner made no append since the previous look.
    Quiet,
}

/// What [`Deferrals::steal`] takes.
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
                // SeqCst: see `Kvfree::earliest_dirty`.
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

impl Deferrals {
    pub(crate) const fn new() -> Self {
        Deferrals {
            slots: Registry::new(),
            queue: CallbackQueue::new(),
            wake: ReclaimWake::new(),
            steal_lock: ForkSafeMutex::new(()),
        }
    }

    /// Claims a deferral slot for the calling thread, with its emergency
    /// reserve block (kept from a previous owner, or allocated now).
    pub(crate) fn claim_slot(&'static self) -> &'static DeferSlot {
        let slot = self.slots.claim();
        // Relaxed: the slot is ours; only the reclaim thread stores a reserve
        // back, and only after this one was taken.
        if slot.reserve.load(Ordering::Relaxed).is_null() {
            if let Some(r) = Block::try_new(RESERVE_BYTES, slot, true) {
                slot.reserve.store(r.as_ptr(), Ordering::Relaxed);
            }
        }
        slot
    }

    /// Gives the slot back (thread exit); its cache and reserve stay with it
    /// for its next owner.
    pub(crate) fn release_slot(&self, slot: &DeferSlot) {
        self.slots.release(slot);
    }

    // ----- callbacks --------------------------------------------------------

    /// Queues `head`/`func`: on `slot`'s own list (the calling thread's), or
    /// on the shared queue when the thread has none (its thread-locals are
    /// being destroyed). Wakes the reclaim thread if it sleeps and the work
    /// is the first it would find.
    ///
    /// # Safety
    ///
    /// `slot` is the calling thread's; otherwise as `CallbackQueue::push`.
    #[inline]
    pub(crate) unsafe fn enqueue(&self, slot: Option<&DeferSlot>, head: NonNull<RcuHead>, func: CallbackFn) {
        let needs_wake = match slot {
            // SAFETY: forwarded contract.
            Some(slot) => unsafe { self.append_local(slot, head, func) },
            // SAFETY: forwarded contract.
            None => unsafe { self.queue.push(head, func) },
        };
        if needs_wake {
            self.wake.wake_if_sleeping();
        }
    }

    /// Appends to the calling thread's own list (see `local_callbacks.rs`).
    /// Returns whether the reclaim thread may need a wake-up.
    ///
    /// # Safety
    ///
    /// As [`Deferrals::enqueue`].
    #[inline]
    unsafe fn append_local(&self, slot: &DeferSlot, head: NonNull<RcuHead>, func: CallbackFn) -> bool {
        owner_section(slot, || {
            // SAFETY: our slot, inside its bracket; the head per the contract.
            match unsafe { slot.append_callback(head, func) } {
                Appended::Added => false,
                Appended::Started => true,
                // Handed over inside the bracket, so that a concurrent
                // `rcu_barrier` that finds the list gone waits until it is
                // in the queue (see `steal`).
                // SAFETY: a complete list taken from our slot.
                Appended::Full(first, last) => unsafe { self.queue.push_list(first, last) },
            }
        })
    }

    /// Hands a complete list (`first ..= last`) to the shared queue: a
    /// thread's list at its exit, or one a stealer took.
    fn push_list(&self, first: NonNull<RcuHead>, last: NonNull<RcuHead>) {
        // SAFETY: the caller took the list from its slot: complete, owned,
        // in no queue.
        if unsafe { self.queue.push_list(first, last) } {
            self.wake.wake_if_sleeping();
        }
    }

    /// The owner leaves: its list goes to the shared queue, inside the
    /// bracket, so that an `rcu_barrier` racing with the exit either steals
    /// the list or waits until it is in the queue.
    pub(crate) fn hand_over_callbacks(&self, slot: &DeferSlot) {
        owner_section(slot, || {
            // SAFETY: our slot, inside its bracket.
            if let Some((first, last)) = unsafe { slot.callbacks.take_own(&slot.hot.callbacks_end) } {
                self.push_list(first, last);
            }
        });
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

    // ----- steal --------------------------------------------------------------

    /// Takes what other threads hold, idle or not, without racing with
    /// their owners: partial blocks (given to `seal` with `what`'s reason,
    /// under the steal lock) and/or callback lists (handed to the shared
    /// queue), per [`Steal`]. In barrier mode every append in progress
    /// anywhere is also waited out, so that a block or list its owner is
    /// handing over right now is in the inbox or queue before the barrier's
    /// marker is queued. Returns the blocks and lists taken.
    pub(crate) fn steal(&self, what: Steal, mut seal: impl FnMut(NonNull<SlotBlock>, SealReason)) -> usize {
        let _serial = self.steal_lock.lock();
        let (stolen, lists, any_slot) = self.take_from_slots(what);
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
                    self.push_list(first, last);
                }
            }
        }
        let mut n = lists;
        let mut next = stolen;
        while let Some(b) = NonNull::new(next) {
            // SAFETY: stolen by `take_from_slots`, so ours; its home is the
            // slot it was taken from (a slot of a static registry).
            let (link, home) = unsafe { (b.as_ref().next(), &*b.as_ref().home()) };
            wait_for_append_to_finish(home);
            next = link;
            seal(b, what.seal_reason().expect("a steal that takes no block took one"));
            n += 1;
        }
        n
    }

    /// The first half of a steal: swaps out the blocks and marks the lists
    /// `what` takes. Returns the blocks (linked), the lists marked, and
    /// whether any slot is in use.
    fn take_from_slots(&self, what: Steal) -> (*mut SlotBlock, usize, bool) {
        let now = crate::sys::monotonic_ns();
        let mut stolen: *mut SlotBlock = std::ptr::null_mut();
        let (mut lists, mut any_slot) = (0, false);
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
                // SAFETY: the block is ours now (its header's link is only
                // used by lists, and it is in none while open).
                unsafe { Block::set_next(b, stolen) };
                stolen = b.as_ptr();
            }
        }
        (stolen, lists, any_slot)
    }

    // ----- fork -----------------------------------------------------------------

    /// `fork()` support: hold the steal lock across the fork.
    pub(crate) fn lock_for_fork(&self) {
        self.steal_lock.raw_lock();
    }

    /// `fork()` support, parent side.
    pub(crate) fn unlock_after_fork_parent(&self) {
        // SAFETY: taken by `lock_for_fork` on this thread; no guard exists.
        unsafe { self.steal_lock.raw_unlock() };
    }

    /// `fork()` support, child side, after the callback queue was repaired:
    /// hands every thread's callback list to the queue (the forking
    /// thread's and those of threads that do not exist here). Returns the
    /// heads.
    pub(crate) fn flush_callback_lists_after_fork(&self) -> usize {
        let mut heads = 0;
        for slot in self.slots.slots() {
            if let Some((first, last, n)) = slot.callbacks.take_after_fork() {
                heads += n;
                // SAFETY: a complete list taken from its slot, owned here.
                unsafe { self.queue.push_list(first, last) };
            }
        }
        heads
    }

    /// `fork()` support, child side: the slots of threads that do not exist
    /// here are released; an append they were in the middle of is abandoned
    /// (its object leaks in the child's copy), and their partial blocks stay
    /// in place for the next drain or `rcu_barrier`.
    pub(crate) fn reset_after_fork_child(&self, keep: Option<&DeferSlot>) {
        // SAFETY: taken by `lock_for_fork` before the fork, by this thread.
        unsafe { self.steal_lock.raw_unlock() };
        self.wake.reset_after_fork_child();
        for slot in self.slots.slots() {
            // A thread that vanished in the fork may have held it.
            // Relaxed: the child is single-threaded here.
            slot.cache_busy.store(false, Ordering::Relaxed);
            if keep.is_some_and(|k| std::ptr::eq(k, slot)) {
                continue;
            }
            // A vanished owner may have been dropping handed-back objects
            // (the one it was dropping leaks in the child's copy). Relaxed:
            // the child is single-threaded here.
            let drain_seq = slot.hot.drain_seq.load(Ordering::Relaxed);
            slot.hot.drain_seq.store(drain_seq & !1, Ordering::Relaxed);
            let seq = slot.hot.seq.load(Ordering::Relaxed);
            slot.hot.seq.store(seq & !1, Ordering::Relaxed);
            slot.in_use.store(false, Ordering::Relaxed);
        }
    }
}
