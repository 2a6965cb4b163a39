//! The slots of one domain: an append-only list of leaked, cache-padded
//! slots. A thread claims a free one (or appends a new one) and releases
//! it at exit with its counts; nodes are never removed, so a writer's two
//! walks over the list see every slot that existed at the first.

use super::slot::SrcuSlot;
use crossbeam_utils::CachePadded;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// One slot on its own cache line, and the next node.
struct Node {
    slot: CachePadded<SrcuSlot>,
    next: *const Node,
}

/// The slots of one srcu domain.
#[derive(Debug)]
pub struct SrcuRegistry {
    head: AtomicPtr<Node>,
}

impl SrcuRegistry {
    /// No slot.
    pub const fn new() -> Self {
        SrcuRegistry { head: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Every slot, newest first.
    pub fn slots(&self) -> impl Iterator<Item = &'static SrcuSlot> {
        // Acquire pairs with the Release of the push in `claim`: a node
        // seen here is seen initialised.
        let mut node = self.head.load(Ordering::Acquire).cast_const();
        std::iter::from_fn(move || {
            // SAFETY: nodes are leaked (never freed) and were initialised
            // before being published (Acquire above; `next` was written
            // before the node was pushed).
            let n = unsafe { node.as_ref() }?;
            node = n.next;
            Some(&*n.slot)
        })
    }

    /// Whether no slot was ever claimed.
    pub fn is_empty(&self) -> bool {
        // Acquire: as in `slots`.
        self.head.load(Ordering::Acquire).is_null()
    }

    /// A slot for the calling thread: a released one (its counts continue)
    /// or a new one.
    pub fn claim(&self) -> &'static SrcuSlot {
        for slot in self.slots() {
            // Acquire on success pairs with the Release in `release`: the
            // previous owner's last counts are seen before this owner
            // continues them with plain stores. Relaxed on failure: taken.
            if !slot.in_use.load(Ordering::Relaxed)
                && slot.in_use.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return Self::claimed(slot);
            }
        }
        Self::claimed(self.push())
    }

    /// Ends a claim: a SeqCst fence, pairing with the one in
    /// `SrcuReaders::no_reader_to_wait_for`, so that a writer that saw no
    /// slot has its unpublish seen by this thread's first section (the
    /// light barrier may be only a compiler fence).
    fn claimed(slot: &'static SrcuSlot) -> &'static SrcuSlot {
        std::sync::atomic::fence(Ordering::SeqCst);
        slot
    }

    #[cold]
    fn push(&self) -> &'static SrcuSlot {
        let node = Box::leak(Box::new(Node { slot: CachePadded::new(SrcuSlot::new(true)), next: ptr::null() }));
        // Relaxed: re-read by the CAS below.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            node.next = head;
            // Release pairs with the Acquire in `slots`; Relaxed on failure:
            // the new head is only re-linked, not read through.
            match self.head.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return &node.slot,
                Err(now) => head = now,
            }
        }
    }

    /// Gives `slot` back with its counts, unless sections its owner entered
    /// are still open on other threads (or leaked): then it stays claimed
    /// for good, so no later owner inherits them in its misuse check.
    pub fn release(&self, slot: &'static SrcuSlot) {
        // The releasing thread stops being the owner its token names, even
        // if the slot stays claimed below (a later thread may reuse the
        // token: its address).
        slot.set_owner_token(0);
        if slot.open_sections() == 0 {
            // Release pairs with the Acquire of the next claim.
            slot.in_use.store(false, Ordering::Release);
        }
    }
}

impl Default for SrcuRegistry {
    fn default() -> Self {
        Self::new()
    }
}
