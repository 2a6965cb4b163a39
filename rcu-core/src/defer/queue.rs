//! The callback queue: wait-free multi-producer enqueue, single consumer.
//!
//! An intrusive singly linked list of `RcuHead`s with a stub node, after
//! liburcu's `wfcqueue`:
//!
//! * enqueue: `node.next = null; prev = tail.swap(node); prev.next = node`.
//!   One exchange, wait-free. Between the exchange and the link the list is
//!   momentarily broken; only the consumer ever waits for that link.
//! * take everything (consumer): detach `stub.next`, swap `tail` back to the
//!   stub; the detached nodes form a [`Segment`] `first ..= last` whose
//!   links the consumer follows, waiting for any link still being written.
//!
//! `tail` starts null, meaning "the stub" (a `static` cannot point into
//! itself in a const initialiser).

use crate::defer::callback::{CallbackFn, RcuHead};
use crossbeam_utils::{Backoff, CachePadded};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The multi-producer callback queue.
pub(crate) struct CallbackQueue {
    stub: CachePadded<RcuHead>,
    tail: CachePadded<AtomicPtr<RcuHead>>,
}

/// A run of callbacks taken from the queue: `first ..= last`, in enqueue
/// order. Owned by the consumer.
#[derive(Debug)]
pub(crate) struct Segment {
    first: NonNull<RcuHead>,
    last: NonNull<RcuHead>,
}

// SAFETY: a segment owns its heads (they were handed over by `call_rcu*`,
// whose callers promise the callbacks are Send).
unsafe impl Send for Segment {}

impl CallbackQueue {
    pub(crate) const fn new() -> Self {
        CallbackQueue {
            stub: CachePadded::new(RcuHead::new()),
            tail: CachePadded::new(AtomicPtr::new(std::ptr::null_mut())),
        }
    }

    fn stub(&self) -> *mut RcuHead {
        &*self.stub as *const RcuHead as *mut RcuHead
    }

    /// Appends `head` with `func`. Wait-free. Returns whether the queue was
    /// empty before (the consumer may need a wake-up).
    ///
    /// # Safety
    ///
    /// `head` is valid, not in any queue, and stays in place until `func`
    /// has been called with it.
    #[inline]
    pub(crate) unsafe fn push(&self, head: NonNull<RcuHead>, func: CallbackFn) -> bool {
        // SAFETY: per the contract, the head is ours until published below.
        let h = unsafe { head.as_ref() };
        // SAFETY: not in a queue yet.
        unsafe { h.set_func(func) };
        // Relaxed: published by the exchange/link in `push_list`.
        h.next.store(std::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: a one-head list, per the contract.
        unsafe { self.push_list(head, head) }
    }

    /// Appends the list `first ..= last` (linked through `next`, `last.next`
    /// null, every function set) in one exchange. Wait-free. Returns whether
    /// the queue was empty before.
    ///
    /// # Safety
    ///
    /// The list is owned by the caller, complete, in no queue, and its heads
    /// stay in place until their functions have been called.
    #[inline]
    pub(crate) unsafe fn push_list(&self, first: NonNull<RcuHead>, last: NonNull<RcuHead>) -> bool {
        // SeqCst (AcqRel would do for the queue itself): Release publishes
        // the list's links and functions to the next producer's exchange
        // (which links after `last`) and to the consumer's AcqRel exchange
        // in `take_all`; SeqCst also orders this exchange before the
        // producer's `sleeping` load, against the reclaim thread's SeqCst
        // `announce` and its SeqCst `is_empty` load (the store-buffering
        // pair of `defer/wake.rs`).
        let prev = self.tail.swap(last.as_ptr(), Ordering::SeqCst);
        let was_empty = prev.is_null() || prev == self.stub();
        let prev = if prev.is_null() { self.stub() } else { prev };
        // Release: the consumer's Acquire load of `next` sees the list's
        // links and functions. SAFETY: `prev` is the stub or a head still in
        // the queue (the consumer does not free a head before following its
        // link).
        unsafe { (*prev).next.store(first.as_ptr(), Ordering::Release) };
        was_empty
    }

    /// Whether the queue holds nothing (consumer side; a concurrent push may
    /// make this stale at once).
    pub(crate) fn is_empty(&self) -> bool {
        // SeqCst: the reclaim thread's half of the store-buffering pair
        // with the SeqCst exchange in `push_list` (see there).
        let t = self.tail.load(Ordering::SeqCst);
        t.is_null() || t == self.stub()
    }

    /// Takes everything queued so far. Consumer only (the reclaim state
    /// lock serialises consumers).
    pub(crate) fn take_all(&self) -> Option<Segment> {
        if self.is_empty() {
            return None;
        }
        // A producer exchanged the tail; wait for its link from the stub.
        let first = wait_for_link(&self.stub);
        // Relaxed: only the consumer writes stub.next back to null; producers
        // that link to the stub do so after the exchange below.
        self.stub.next.store(std::ptr::null_mut(), Ordering::Relaxed);
        // AcqRel: Acquire pairs with the last producer's exchange in
        // `push_list` (its head and function are visible); Release publishes
        // the cleared stub to the producers whose exchange returns it.
        let last = self.tail.swap(self.stub(), Ordering::AcqRel);
        Some(Segment { first, last: NonNull::new(last).expect("non-empty queue has a tail") })
    }

    /// `fork()` support, child side: a producer that was between its
    /// exchange and its link when the parent forked does not exist in the
    /// child, so that link will never be written: cut the list there (the
    /// heads after the break are lost to the child; their objects leak in
    /// the child's copy of memory, the parent runs them as usual). Heads
    /// for which `drop_head` holds (rcu_barrier markers of threads that do
    /// not exist here) are unlinked. Returns the heads kept.
    pub(crate) fn repair_after_fork_child(&self, drop_head: impl Fn(NonNull<RcuHead>) -> bool) -> usize {
        // Relaxed here and below: the child is single-threaded, nothing to pair with.
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.is_null() || tail == self.stub() {
            return 0;
        }
        let first = NonNull::new(self.stub.next.load(Ordering::Relaxed));
        // Relaxed: the child is single-threaded here.
        let (kept, n) = match first {
            Some(first) => Segment::relink(first, NonNull::new(tail).expect("checked"), drop_head),
            None => (None, 0),
        };
        match kept {
            Some(seg) => {
                self.stub.next.store(seg.first.as_ptr(), Ordering::Relaxed);
                self.tail.store(seg.last.as_ptr(), Ordering::Relaxed);
            }
            None => {
                self.stub.next.store(std::ptr::null_mut(), Ordering::Relaxed);
                self.tail.store(self.stub(), Ordering::Relaxed);
            }
        }
        n
    }
}

/// Waits (adaptively) until `head.next` is linked, and returns it.
fn wait_for_link(head: &RcuHead) -> NonNull<RcuHead> {
    let backoff = Backoff::new();
    loop {
        // Acquire pairs with the Release link in `push`.
        if let Some(next) = NonNull::new(head.next.load(Ordering::Acquire)) {
            return next;
        }
        backoff.snooze();
    }
}

impl Segment {
    /// Appends `other` after `self` (both consumer-owned).
    pub(crate) fn append(&mut self, other: Segment) {
        // Relaxed: the consumer owns both segments; `self.last` is never
        // linked by producers (it was the tail when taken).
        // SAFETY: `last` is a head owned by this segment.
        unsafe { self.last.as_ref().next.store(other.first.as_ptr(), Ordering::Relaxed) };
        self.last = other.last;
    }

    /// `fork()` support, child side: as `CallbackQueue::repair_after_fork_child`
    /// for a segment the reclaim thread had taken. Returns the repaired
    /// segment (`None` if nothing is left) and its length.
    pub(crate) fn repair_after_fork_child(
        self,
        drop_head: impl Fn(NonNull<RcuHead>) -> bool,
    ) -> (Option<Segment>, usize) {
        Self::relink(self.first, self.last, drop_head)
    }

    /// Walks `first ..= last` (single-threaded), stopping at a missing
    /// link, and relinks the heads for which `drop_head` is false.
    fn relink(
        first: NonNull<RcuHead>,
        last: NonNull<RcuHead>,
        drop_head: impl Fn(NonNull<RcuHead>) -> bool,
    ) -> (Option<Segment>, usize) {
        let mut kept: Option<Segment> = None;
        let mut n = 0;
        let mut cur = Some(first);
        while let Some(c) = cur {
            // SAFETY: the child is single-threaded; `c` is a queued head.
            let next = if c == last { None } else { NonNull::new(unsafe { c.as_ref() }.next.load(Ordering::Relaxed)) };
            if !drop_head(c) {
                // SAFETY: as above.
                unsafe { c.as_ref().next.store(std::ptr::null_mut(), Ordering::Relaxed) };
                let one = Segment { first: c, last: c };
                match kept.as_mut() {
                    Some(k) => k.append(one),
                    None => kept = Some(one),
                }
                n += 1;
            }
            cur = next;
        }
        (kept, n)
    }

    /// Calls `each` for every head in order; `each` may free the head (the
    /// link is read first). Returns the number of heads.
    pub(crate) fn for_each(self, mut each: impl FnMut(NonNull<RcuHead>)) -> usize {
        let mut n = 0;
        let mut cur = self.first;
        loop {
            let is_last = cur == self.last;
            // SAFETY: `cur` is owned by this segment and not yet handed to
            // `each`; the link from it is complete or being written.
            let next = if is_last { None } else { Some(wait_for_link(unsafe { cur.as_ref() })) };
            each(cur);
            n += 1;
            match next {
                Some(next) => cur = next,
                None => return n,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static RAN: AtomicUsize = AtomicUsize::new(0);
    unsafe fn count(_: NonNull<RcuHead>) {
        RAN.fetch_add(1, Ordering::Relaxed);
    }

    #[test]
    fn heads_come_out_in_order_and_the_queue_empties() {
        let q = Box::leak(Box::new(CallbackQueue::new()));
        let heads: Vec<NonNull<RcuHead>> = (0..5).map(|_| NonNull::from(Box::leak(Box::new(RcuHead::new())))).collect();
        for (i, h) in heads.iter().enumerate() {
            // SAFETY: fresh leaked heads.
            let was_empty = unsafe { q.push(*h, count) };
            assert_eq!(was_empty, i == 0);
        }
        let seg = q.take_all().unwrap();
        assert!(q.is_empty());
        let mut seen = vec![];
        assert_eq!(seg.for_each(|h| seen.push(h)), 5);
        assert_eq!(seen, heads);
        assert!(q.take_all().is_none());
        // SAFETY: fresh head.
        assert!(unsafe { q.push(heads[0], count) });
    }

    #[test]
    fn concurrent_producers_lose_nothing() {
        let q: &'static CallbackQueue = Box::leak(Box::new(CallbackQueue::new()));
        let producers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let h = NonNull::from(Box::leak(Box::new(RcuHead::new())));
                        // SAFETY: fresh leaked head.
                        unsafe { q.push(h, count) };
                    }
                })
            })
            .collect();
        let mut taken = 0;
        let mut done = false;
        while !done {
            done = producers.iter().all(|p| p.is_finished());
            while let Some(seg) = q.take_all() {
                // SAFETY: each head was leaked from a Box above.
                taken += seg.for_each(|h| drop(unsafe { Box::from_raw(h.as_ptr()) }));
            }
        }
        assert_eq!(taken, 40_000);
    }
}
