//! A thread's own callback list, in front of the shared callback queue.
//!
//! `call_rcu*` appends to the calling thread's list with plain stores; the
//! owner hands the list to the shared queue once it holds [`FLUSH_EVERY`]
//! callbacks, with one exchange for the whole batch. Pushing every head on
//! the shared queue costs an exchange per call, which drains the store
//! buffer holding the usually cache-missing stores to the head just
//! written.
//!
//! A partial list is taken by a *stealer*: `rcu_barrier`, and the reclaim
//! thread, which looks at the lists when it has nothing else to do and at
//! most every [`STALE_AFTER`] otherwise, and steals once a list has not
//! changed between two looks (so an isolated `call_rcu` still runs after
//! about `STALE_AFTER` plus one grace period, while a busy producer, whose
//! list fills and changes in well under that, is not interrupted by the
//! steal's heavy barrier). The first head of a list is
//! announced with a `SeqCst` store, so an idle reclaim thread either sees
//! the list (and rechecks it after `STALE_AFTER`) or is woken by its owner
//! (see `Reclaimer::idle`).
//!
//! The list lives in the thread's `DeferSlot` and the owner works on it
//! inside that slot's `seq` bracket, so stealing is the kvfree "steal"
//! protocol (`slot.rs`): swap `first` to null, heavy barrier, wait for the
//! owner's append in progress, then walk the list. Afterwards the owner
//! never touches the stolen list again: it only reaches its list through
//! `first`, which it now finds null.

use crate::defer::callback::{CallbackFn, RcuHead};
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// Callbacks a thread gathers before handing them to the shared queue.
pub(crate) const FLUSH_EVERY: u32 = 64;

/// How long the reclaim thread leaves a partial list whose owner appends
/// nothing before it steals the list. Stealing lists at every pass issued
/// a heavy barrier per small batch while producers were busy, and its
/// interrupts slowed every producer's `call_rcu_raw`.
pub(crate) const STALE_AFTER: std::time::Duration = std::time::Duration::from_micros(50);

/// One thread's callback list (see the module docs): the part stealers
/// and the reclaim thread read. The owner-only end is a [`ListEnd`], kept
/// apart (on the owner's hot cache line).
pub(crate) struct LocalCallbacks {
    /// The oldest head, or null. Only the owner stores non-null; stealers
    /// swap it to null.
    first: AtomicPtr<RcuHead>,
    /// What only stealers write, apart from `first`, which the owner
    /// loads on every append.
    stealer: CachePadded<StealerSide>,
}

/// A list's stealer-only fields.
struct StealerSide {
    /// The list taken by the steal in progress (serialised by the kvfree
    /// steal lock).
    stolen: AtomicPtr<RcuHead>,
    /// The owner's `seq` at the reclaim thread's previous look.
    seen_seq: AtomicU32,
    /// `first` at the reclaim thread's previous look.
    seen_first: AtomicPtr<RcuHead>,
}

/// The owner's end of its list. Owner only (atomics for `Sync`; Relaxed).
pub(crate) struct ListEnd {
    /// The newest head, valid while the owner finds `first` non-null.
    last: AtomicPtr<RcuHead>,
    /// Heads in the owner's list.
    len: AtomicU32,
}

impl ListEnd {
    pub(crate) const fn new() -> Self {
        ListEnd { last: AtomicPtr::new(std::ptr::null_mut()), len: AtomicU32::new(0) }
    }
}

/// What an append leaves for the owner to do.
pub(crate) enum Appended {
    /// Added to a list that already had heads.
    Added,
    /// Started a new list: the reclaim thread may need a wake-up.
    Started,
    /// The list is full and taken: hand `first ..= last` to the shared queue.
    Full(NonNull<RcuHead>, NonNull<RcuHead>),
}

impl LocalCallbacks {
    pub(crate) const fn new() -> Self {
        LocalCallbacks {
            first: AtomicPtr::new(std::ptr::null_mut()),
            stealer: CachePadded::new(StealerSide {
                stolen: AtomicPtr::new(std::ptr::null_mut()),
                seen_seq: AtomicU32::new(0),
                seen_first: AtomicPtr::new(std::ptr::null_mut()),
            }),
        }
    }

    /// Appends `head` with `func`.
    ///
    /// # Safety
    ///
    /// The caller owns this list's slot and is inside its `seq` bracket;
    /// `end` is this list's end; `head` is valid, in no list or queue, and
    /// stays in place until `func` has run.
    #[inline]
    pub(crate) unsafe fn append(&self, end: &ListEnd, head: NonNull<RcuHead>, func: CallbackFn) -> Appended {
        // SAFETY: per the contract, the head is ours until linked below.
        let h = unsafe { head.as_ref() };
        // SAFETY: the head is in no queue, so no other thread reads it.
        unsafe { h.set_func(func) };
        // Relaxed: published with the link below (Release) or by the
        // `first` store, and to stealers by the `seq` bracket.
        h.next.store(std::ptr::null_mut(), Ordering::Relaxed);
        // Relaxed: only this thread stores non-null; a stealer's swap to
        // null is ordered against this load by the bracket (light barrier
        // here, heavy barrier there).
        if self.first.load(Ordering::Relaxed).is_null() {
            // Relaxed: owner-only fields.
            end.last.store(head.as_ptr(), Ordering::Relaxed);
            end.len.store(1, Ordering::Relaxed);
            // SeqCst: store-buffering pair with the reclaim thread, which
            // announces its sleep (SeqCst store of `sleeping`) and then
            // checks `has_list` (SeqCst); its owner loads `sleeping`
            // (SeqCst) after this store.
            self.first.store(head.as_ptr(), Ordering::SeqCst);
            return Appended::Started;
        }
        // Relaxed: owner-only; valid since `first` was non-null.
        let last = end.last.load(Ordering::Relaxed);
        // Release: the head's fields before the link, for a forked child
        // that walks the list without the bracket (see `take_after_fork`).
        // SAFETY: `last` is the newest head of our list, still in place
        // (nothing runs a head before it is taken from the list).
        unsafe { (*last).next.store(head.as_ptr(), Ordering::Release) };
        // Relaxed: owner-only fields.
        end.last.store(head.as_ptr(), Ordering::Relaxed);
        let len = end.len.load(Ordering::Relaxed) + 1;
        end.len.store(len, Ordering::Relaxed);
        if len < FLUSH_EVERY {
            return Appended::Added;
        }
        // AcqRel: pairs with a stealer's swap; null means a stealer took
        // the list (including `head`: it waits for this bracket to end).
        match NonNull::new(self.first.swap(std::ptr::null_mut(), Ordering::AcqRel)) {
            Some(first) => Appended::Full(first, head),
            None => Appended::Added,
        }
    }

    /// Takes the owner's whole list (thread exit).
    ///
    /// # Safety
    ///
    /// As [`Self::append`]: the caller owns the slot, inside its bracket.
    pub(crate) unsafe fn take_own(&self, end: &ListEnd) -> Option<(NonNull<RcuHead>, NonNull<RcuHead>)> {
        // AcqRel: as in `append`.
        let first = NonNull::new(self.first.swap(std::ptr::null_mut(), Ordering::AcqRel))?;
        // Relaxed: owner-only; valid since `first` was non-null.
        Some((first, NonNull::new(end.last.load(Ordering::Relaxed)).expect("a list has a last head")))
    }

    /// Whether the list has heads (reclaim thread: is there work to steal?).
    pub(crate) fn has_list(&self) -> bool {
        // SeqCst: see the `first` store in `append`.
        !self.first.load(Ordering::SeqCst).is_null()
    }

    /// Reclaim thread: records the owner's `seq` and the list's first head,
    /// and returns whether either is unchanged since the previous look: the
    /// owner made no append since, or only appends that did not fill the
    /// list (`seq` alone is not enough: `kvfree_rcu` bumps it too, and a
    /// thread that keeps calling it would keep a lone callback waiting). A
    /// head address reused by chance only makes a steal early, never wrong.
    pub(crate) fn owner_quiet_since_last_look(&self, owner_seq: u32) -> bool {
        // Relaxed: a hint (a steal is always safe).
        let first = self.first.load(Ordering::Relaxed);
        // Relaxed: reclaim-thread-only fields.
        let same_list = self.stealer.seen_first.swap(first, Ordering::Relaxed) == first;
        let no_append = self.stealer.seen_seq.swap(owner_seq, Ordering::Relaxed) == owner_seq;
        same_list || no_append
    }

    /// Stealer, first pass: takes the list, to be completed by
    /// [`Self::finish_steal`] after the heavy barrier. Returns whether
    /// there was one.
    pub(crate) fn begin_steal(&self) -> bool {
        // AcqRel: pairs with the owner's swap in `append`/`take_own`.
        let first = self.first.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // Relaxed: stealer-only field, under the steal lock.
        self.stealer.stolen.store(first, Ordering::Relaxed);
        !first.is_null()
    }

    /// Whether [`Self::begin_steal`] took a list not yet finished.
    pub(crate) fn has_stolen(&self) -> bool {
        // Relaxed: stealer-only field, under the steal lock.
        !self.stealer.stolen.load(Ordering::Relaxed).is_null()
    }

    /// Stealer, second pass, once the owner's append in progress (if any)
    /// has finished: the stolen list as `first ..= last`.
    pub(crate) fn finish_steal(&self) -> Option<(NonNull<RcuHead>, NonNull<RcuHead>)> {
        // Relaxed: stealer-only field, under the steal lock.
        let first = NonNull::new(self.stealer.stolen.swap(std::ptr::null_mut(), Ordering::Relaxed))?;
        Some((first, walk_to_last(first).0))
    }

    /// `fork()` support, child side (single-threaded): takes the list of a
    /// thread that may have vanished mid-append. Its link to a half-appended
    /// head is either visible with the head's fields (Release) or not at all.
    /// Returns the list and its length.
    pub(crate) fn take_after_fork(&self) -> Option<(NonNull<RcuHead>, NonNull<RcuHead>, usize)> {
        // Relaxed: the child is single-threaded here.
        let first = NonNull::new(self.first.swap(std::ptr::null_mut(), Ordering::Relaxed))?;
        self.stealer.stolen.store(std::ptr::null_mut(), Ordering::Relaxed);
        let (last, n) = walk_to_last(first);
        Some((first, last, n))
    }
}

/// The last head of a complete list starting at `first`, and its length.
fn walk_to_last(first: NonNull<RcuHead>) -> (NonNull<RcuHead>, usize) {
    let (mut last, mut n) = (first, 1);
    // Acquire: pairs with the Release links in `append` (the stealer is
    // also ordered after them by the `seq` bracket).
    // SAFETY: the heads of a taken list stay in place until run.
    while let Some(next) = NonNull::new(unsafe { last.as_ref() }.next.load(Ordering::Acquire)) {
        (last, n) = (next, n + 1);
    }
    (last, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe fn nothing(_: NonNull<RcuHead>) {}

    fn heads(n: usize) -> Vec<NonNull<RcuHead>> {
        (0..n).map(|_| NonNull::from(Box::leak(Box::new(RcuHead::new())))).collect()
    }

    fn collect(first: NonNull<RcuHead>, last: NonNull<RcuHead>) -> Vec<NonNull<RcuHead>> {
        let mut out = vec![first];
        let mut cur = first;
        while cur != last {
            // SAFETY: test heads are leaked, never freed.
            cur = NonNull::new(unsafe { cur.as_ref() }.next.load(Ordering::Relaxed)).unwrap();
            out.push(cur);
        }
        out
    }

    #[test]
    fn a_full_list_is_handed_over_whole_and_in_order() {
        let l = LocalCallbacks::new();
        let e = ListEnd::new();
        let hs = heads(FLUSH_EVERY as usize + 1);
        for (i, h) in hs.iter().enumerate() {
            // SAFETY: single thread owns the list; fresh heads.
            match unsafe { l.append(&e, *h, nothing) } {
                Appended::Started => assert!(i == 0 || i == FLUSH_EVERY as usize),
                Appended::Added => assert!(i > 0 && i < FLUSH_EVERY as usize - 1),
                Appended::Full(first, last) => {
                    assert_eq!(i, FLUSH_EVERY as usize - 1);
                    assert_eq!(collect(first, last), hs[..FLUSH_EVERY as usize]);
                }
            }
        }
        // SAFETY: as above.
        let (first, last) = unsafe { l.take_own(&e) }.unwrap();
        assert_eq!(collect(first, last), hs[FLUSH_EVERY as usize..]);
        assert!(!l.has_list());
    }

    #[test]
    fn a_stolen_list_is_complete_and_the_owner_starts_a_new_one() {
        let l = LocalCallbacks::new();
        let e = ListEnd::new();
        let hs = heads(5);
        for h in &hs[..3] {
            // SAFETY: as above.
            unsafe { l.append(&e, *h, nothing) };
        }
        assert!(l.begin_steal());
        // SAFETY: as above.
        assert!(matches!(unsafe { l.append(&e, hs[3], nothing) }, Appended::Started));
        // SAFETY: as above.
        assert!(matches!(unsafe { l.append(&e, hs[4], nothing) }, Appended::Added));
        let (first, last) = l.finish_steal().unwrap();
        assert_eq!(collect(first, last), hs[..3]);
        // SAFETY: as above.
        let (first, last) = unsafe { l.take_own(&e) }.unwrap();
        assert_eq!(collect(first, last), hs[3..]);
        assert!(!l.begin_steal());
        assert!(l.finish_steal().is_none());
    }
}
