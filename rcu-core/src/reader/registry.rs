//! Registries of per-thread slots: reader slots (`ReaderSlot`) and
//! deferral slots (`kvfree::DeferSlot`), one registry of each per flavour.
//!
//! # Layout
//!
//! Slots live in fixed chunks of [`CHUNK_SLOTS`], each slot on its own cache
//! line. The first chunk is part of the (static) registry; more chunks are
//! allocated when all slots are claimed and appended to a singly linked list.
//! Chunks are never freed or unlinked, so a `&'static ReaderSlot` stays valid
//! for the life of the process, and a grace period can walk the list without
//! a lock.
//!
//! # Ownership and reuse
//!
//! A thread claims a free slot (`in_use` false → true, compare-exchange) on
//! registration and releases it (reader word back to inactive, then `in_use`
//! false) at unregistration or thread exit. Released slots are claimed again
//! by later threads, so short-lived threads do not grow the registry: its
//! size is the peak number of simultaneously registered threads, rounded up
//! to a chunk.
//!
//! # Concurrency with grace periods
//!
//! Neither claiming nor releasing takes the grace-period lock, so
//! registration never waits for a grace period. A scan may miss a slot
//! claimed (or a chunk linked) after the scan passed it; such a reader
//! registered after the grace period's first barrier, so its loads see the
//! unpublished state (see `gp/grace_period.rs`). A released slot reads as
//! inactive, which is exactly right for a thread that has left.

use crate::reader::ReaderSlot;
use crate::sync::atomic::{fence, AtomicBool, Ordering};
use crossbeam_utils::CachePadded;
use std::sync::atomic::AtomicPtr;

/// A per-thread slot a [`Registry`] can hold.
pub trait Slot: Sync + 'static {
    /// An unclaimed slot.
    const NEW: Self;
    /// The claim flag (see the module docs).
    fn in_use(&self) -> &AtomicBool;
}

impl Slot for ReaderSlot {
    const NEW: Self = ReaderSlot::new();
    fn in_use(&self) -> &AtomicBool {
        &self.in_use
    }
}

/// Slots per chunk: 32 cache lines of 128 bytes, 4 KiB.
pub const CHUNK_SLOTS: usize = 32;

struct Chunk<S> {
    slots: [CachePadded<S>; CHUNK_SLOTS],
    /// The next chunk, or null. Written once (null → chunk, `Release`), read
    /// with `Acquire` so the chunk's initialised slots are visible.
    next: AtomicPtr<Chunk<S>>,
}

impl<S: Slot> Chunk<S> {
    const fn new() -> Self {
        Chunk { slots: [const { CachePadded::new(S::NEW) }; CHUNK_SLOTS], next: AtomicPtr::new(std::ptr::null_mut()) }
    }

    fn next(&self) -> Option<&Chunk<S>> {
        // Acquire pairs with the Release compare-exchange in `append`.
        let p = self.next.load(Ordering::Acquire);
        // SAFETY: a non-null `next` points to a leaked chunk that is never
        // freed (see the module docs).
        unsafe { p.as_ref() }
    }
}

/// All slots of one kind for one flavour.
pub struct Registry<S: Slot = ReaderSlot> {
    first: Chunk<S>,
}

impl<S: Slot> std::fmt::Debug for Registry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("capacity", &self.capacity()).field("in_use", &self.in_use()).finish()
    }
}

impl<S: Slot> Registry<S> {
    /// An empty registry with one chunk of free slots.
    pub const fn new() -> Self {
        Registry { first: Chunk::new() }
    }

    fn chunks(&self) -> impl Iterator<Item = &Chunk<S>> {
        std::iter::successors(Some(&self.first), |c| c.next())
    }

    /// Every slot, claimed or not, in a stable order.
    pub fn slots(&self) -> impl Iterator<Item = &S> {
        self.chunks().flat_map(|c| c.slots.iter().map(|s| &**s))
    }

    /// Claims a free slot for the calling thread, growing the registry if
    /// every slot is taken. Never blocks.
    pub fn claim(&'static self) -> &'static S {
        loop {
            if let Some(slot) = self.slots().find(|s| try_claim(*s)) {
                return slot;
            }
            if let Some(slot) = self.append_chunk() {
                return slot;
            }
        }
    }

    /// Links a new chunk whose first slot is already claimed. Returns `None`
    /// if the chunk was freed instead because another thread appended first
    /// (the caller rescans: the other chunk has free slots).
    #[cold]
    fn append_chunk(&'static self) -> Option<&'static S> {
        let chunk = Box::new(Chunk::<S>::new());
        // Relaxed: published by the Release compare-exchange below.
        chunk.slots[0].in_use().store(true, Ordering::Relaxed);
        let chunk = Box::into_raw(chunk);
        let last = self.chunks().last().expect("the first chunk always exists");
        // Release: publishes the initialised chunk; pairs with the Acquire
        // load in `Chunk::next`.
        match last.next.compare_exchange(std::ptr::null_mut(), chunk, Ordering::Release, Ordering::Relaxed) {
            // SAFETY: the chunk is now linked and never freed.
            Ok(_) => Some(unsafe { &(*chunk).slots[0] }),
            Err(_) => {
                // SAFETY: not linked, so nobody else saw it.
                drop(unsafe { Box::from_raw(chunk) });
                None
            }
        }
    }

    /// Returns a slot whose owner has reset it.
    pub fn release(&self, slot: &S) {
        // Release: the next owner's Acquire claim sees the reset fields.
        slot.in_use().store(false, Ordering::Release);
    }

    /// Number of slots (claimed or not).
    pub fn capacity(&self) -> usize {
        self.chunks().count() * CHUNK_SLOTS
    }

    /// Number of slots currently claimed.
    pub fn in_use(&self) -> usize {
        // Relaxed: a statistic; claims are published by `claim`'s own orders.
        self.slots().filter(|s| s.in_use().load(Ordering::Relaxed)).count()
    }
}

impl Registry<ReaderSlot> {
    /// Returns a reader slot to the registry. The owner must be outside any
    /// read-side critical section (or be exiting: the thread can no longer
    /// read). Wakes a grace period that may be waiting for this slot.
    pub fn release_reader(&self, slot: &ReaderSlot) {
        // Orders every read of the departing thread before the inactive
        // word; pairs with the writer's final barrier after its scan.
        fence(Ordering::SeqCst);
        // Relaxed store ordered by the fences around it.
        slot.ctr.store(0, Ordering::Relaxed);
        slot.set_transient(false);
        slot.tid.store(0, Ordering::Relaxed);
        // Orders the inactive word before the waker-flag load (store-buffering
        // pair with the writer's barrier in `GpWaker::wait_until`).
        fence(Ordering::SeqCst);
        slot.waker().wake_up_gp();
        self.release(slot);
    }

    /// `fork()` support, child side: releases every slot but `keep` (the
    /// forking thread's); their threads do not exist in the child.
    /// Every slot's futex word is reset too: no writer sleeps in the child.
    pub(crate) fn release_all_except(&self, keep: Option<&ReaderSlot>) {
        for slot in self.slots() {
            slot.waker().reset_after_fork_child();
            let kept = keep.is_some_and(|k| std::ptr::eq(k, slot));
            // Relaxed: the child is single-threaded here.
            if !kept && slot.in_use.load(Ordering::Relaxed) {
                slot.ctr.store(0, Ordering::Relaxed);
                slot.waker().clear_after_fork_child();
                slot.tid.store(0, Ordering::Relaxed);
                slot.in_use.store(false, Ordering::Relaxed);
            }
        }
    }
}

impl<S: Slot> Default for Registry<S> {
    fn default() -> Self {
        Self::new()
    }
}

fn try_claim<S: Slot>(slot: &S) -> bool {
    // Relaxed pre-check avoids a locked instruction on busy slots; Acquire on
    // success pairs with the Release store in `release` (previous owner).
    !slot.in_use().load(Ordering::Relaxed)
        && slot.in_use().compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaked() -> &'static Registry {
        Box::leak(Box::new(Registry::new()))
    }

    #[test]
    fn released_slots_are_reused_so_the_registry_does_not_grow() {
        let reg = leaked();
        for _ in 0..10 * CHUNK_SLOTS {
            let s = reg.claim();
            reg.release_reader(s);
        }
        assert_eq!(reg.capacity(), CHUNK_SLOTS);
        assert_eq!(reg.in_use(), 0);
    }

    #[test]
    fn a_full_registry_grows_by_a_chunk_and_hands_out_distinct_slots() {
        let reg = leaked();
        let slots: Vec<_> = (0..CHUNK_SLOTS + 3).map(|_| reg.claim()).collect();
        assert_eq!(reg.capacity(), 2 * CHUNK_SLOTS);
        assert_eq!(reg.in_use(), CHUNK_SLOTS + 3);
        let mut addrs: Vec<_> = slots.iter().map(|s| *s as *const ReaderSlot).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), CHUNK_SLOTS + 3);
    }

    #[test]
    fn concurrent_claims_never_share_a_slot() {
        let reg = leaked();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..50).map(|_| reg.claim() as *const ReaderSlot as usize).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<usize> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(reg.in_use(), n);
    }
}
