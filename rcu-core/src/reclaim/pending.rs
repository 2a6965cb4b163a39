//! What the reclaim thread holds until its grace period completes:
//! callback segments and sealed kvfree blocks, each in cookie order.

use crate::defer::block::{Block, SealedBlock};
use crate::defer::queue::Segment;
use crate::defer::slot::{DeferSlot, SlotBlock};
use crate::gp::sequence::GpState;
use std::ptr::NonNull;

/// Segments waiting for their grace period, oldest first. A fixed ring, so
/// the reclaim thread never allocates; when full, the newest segment absorbs
/// the next one and takes its (later, hence conservative) cookie.
pub(super) struct Pending {
    segments: [Option<(GpState, Segment)>; PENDING_SEGMENTS],
    len: usize,
    /// Sealed kvfree blocks, sorted by cookie (oldest first), linked
    /// through their headers; `blocks_tail` is the newest.
    blocks_head: *mut SlotBlock,
    blocks_tail: *mut SlotBlock,
}

// SAFETY: the raw block pointers are owned by this structure (sealed blocks
// handed to the reclaim thread); only the lock holder touches them.
unsafe impl Send for Pending {}

const PENDING_SEGMENTS: usize = 4;

impl Pending {
    pub(super) const fn new() -> Self {
        Pending {
            segments: [const { None }; PENDING_SEGMENTS],
            len: 0,
            blocks_head: std::ptr::null_mut(),
            blocks_tail: std::ptr::null_mut(),
        }
    }

    /// Inserts a sealed block in cookie order (usually at the tail: cookies
    /// mostly arrive in order).
    pub(super) fn insert_block(&mut self, sealed: SealedBlock<DeferSlot>) {
        let cookie = sealed.cookie();
        let b = sealed.into_raw();
        let null = std::ptr::null_mut();
        // SAFETY: every pointer in the list is a sealed block owned by it,
        // and `b` is now too.
        unsafe {
            match NonNull::new(self.blocks_tail) {
                None => {
                    Block::set_next(b, null);
                    self.blocks_head = b.as_ptr();
                    self.blocks_tail = b.as_ptr();
                }
                Some(tail) if tail.as_ref().cookie() <= cookie => {
                    Block::set_next(b, null);
                    Block::set_next(tail, b.as_ptr());
                    self.blocks_tail = b.as_ptr();
                }
                Some(_) => {
                    // After the last block not later than `b`; the tail is
                    // later, so `b` is not the new tail.
                    let (mut prev, mut cur) = (null, self.blocks_head);
                    while let Some(c) = NonNull::new(cur).filter(|c| c.as_ref().cookie() <= cookie) {
                        prev = c.as_ptr();
                        cur = c.as_ref().next();
                    }
                    Block::set_next(b, cur);
                    match NonNull::new(prev) {
                        None => self.blocks_head = b.as_ptr(),
                        Some(p) => Block::set_next(p, b.as_ptr()),
                    }
                }
            }
        }
    }

    pub(super) fn oldest_block_cookie(&self) -> Option<GpState> {
        // SAFETY: as in `insert_block`.
        NonNull::new(self.blocks_head).map(|b| unsafe { b.as_ref().cookie() })
    }

    /// Detaches the leading blocks whose cookie is done (a linked list).
    pub(super) fn pop_ready_blocks(&mut self, is_done: impl Fn(GpState) -> bool) -> *mut SlotBlock {
        let first = self.blocks_head;
        let mut last = None;
        // SAFETY: as in `insert_block`.
        unsafe {
            while let Some(h) = NonNull::new(self.blocks_head).filter(|h| is_done(h.as_ref().cookie())) {
                last = Some(h);
                self.blocks_head = h.as_ref().next();
            }
            let Some(last) = last else { return std::ptr::null_mut() };
            Block::set_next(last, std::ptr::null_mut());
        }
        if self.blocks_head.is_null() {
            self.blocks_tail = std::ptr::null_mut();
        }
        first
    }

    pub(super) fn push(&mut self, cookie: GpState, seg: Segment) {
        if self.len == PENDING_SEGMENTS {
            let (c, newest) = self.segments[self.len - 1].as_mut().expect("len counts filled slots");
            newest.append(seg);
            *c = cookie;
        } else {
            self.segments[self.len] = Some((cookie, seg));
            self.len += 1;
        }
    }

    pub(super) fn oldest_cookie(&self) -> Option<GpState> {
        self.segments[0].as_ref().map(|(c, _)| *c)
    }

    /// Removes and concatenates every leading segment whose cookie is done.
    pub(super) fn pop_ready(&mut self, is_done: impl Fn(GpState) -> bool) -> Option<Segment> {
        let mut ready: Option<Segment> = None;
        while self.len > 0 && is_done(self.oldest_cookie().expect("len > 0")) {
            let (_, seg) = self.segments[0].take().expect("len > 0");
            self.segments.rotate_left(1);
            self.len -= 1;
            match ready.as_mut() {
                Some(r) => r.append(seg),
                None => ready = Some(seg),
            }
        }
        ready
    }

    /// `fork()` child: keeps the blocks and the segments `repair` leaves
    /// (it cuts what a vanished thread was linking and drops markers of
    /// threads that do not exist here, returning the heads kept). Returns
    /// the heads kept and the (blocks, objects) pending.
    pub(super) fn repair_after_fork_child(
        &mut self,
        repair: impl Fn(Segment) -> (Option<Segment>, usize),
    ) -> (u64, (u64, u64)) {
        let mut kept = Pending::new();
        (kept.blocks_head, kept.blocks_tail) = (self.blocks_head, self.blocks_tail);
        let mut heads = 0;
        for slot in self.segments.iter_mut().take(self.len) {
            let (cookie, seg) = slot.take().expect("len counts filled slots");
            let (seg, n) = repair(seg);
            heads += n as u64;
            if let Some(seg) = seg {
                kept.push(cookie, seg);
            }
        }
        *self = kept;
        let (mut blocks, mut objects) = (0, 0);
        let mut b = self.blocks_head;
        while let Some(block) = NonNull::new(b) {
            // SAFETY: pending blocks are sealed and owned by this list.
            let block = unsafe { block.as_ref() };
            blocks += 1;
            objects += block.objects() as u64;
            b = block.next();
        }
        (heads, (blocks, objects))
    }
}
