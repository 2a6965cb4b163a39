//! The deferred retire paths: the token is dropped on the reclaim thread
//! after a grace period, by a callback or a kvfree block.
//!
//! * `call_rcu`: the closure owns the token.
//! * `call_rcu_raw`: the token lives in a node with an embedded
//!   [`RcuHead`], placed *after* the token so that the callback must find
//!   its container from the head (the kernel's `container_of`).
//! * chained callbacks with `rcu_barrier`: a chain of 1 to 4 callbacks, each
//!   queueing the next while it runs; the last one drops the token. One
//!   `rcu_barrier` waits only for callbacks queued *before* it was called,
//!   and each link is queued by the previous one while it runs, so the
//!   writer calls `rcu_barrier` once per link and checks after the `i`-th
//!   call that at least `i` links have run (and after the last, that the
//!   token is gone).
//! * `kvfree_rcu` of a `Box<Token>`, a `Box<[Token]>` and a
//!   `Box<dyn Send>` (one, two and two words per entry in the block), and
//!   of a `Vec<Token>` with spare capacity (three words, freed without
//!   reallocation; one in 32 up to 64 KiB, which fills its block by size).

use crate::discipline;
use crate::path::PathCtx;
use rcu_core::{RcuFlavour, RcuHead};
use rcu_testkit::arena::Token;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The closure owns the token.
pub fn call_rcu<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let reading = cx.rng.one_in(2);
    discipline::maybe_reading::<F, _>(cx.thread, reading, || F::call_rcu(move || drop(token)));
}

/// A retired token with an intrusive head, not at offset 0.
#[repr(C)]
struct RawNode {
    token: Token,
    head: RcuHead,
}

/// `call_rcu_raw`'s callback: reclaims the node around `head`.
///
/// # Safety
///
/// `head` is the `head` field of a `RawNode` leaked from a `Box` by
/// [`call_rcu_raw`], and this is the only call for it.
unsafe fn free_raw_node(head: NonNull<RcuHead>) {
    let offset = std::mem::offset_of!(RawNode, head);
    // SAFETY: per the contract, stepping back by the field's offset gives
    // the node (the head pointer was derived from the node's raw pointer,
    // so it carries the whole allocation's provenance).
    let node = unsafe { head.cast::<u8>().sub(offset).cast::<RawNode>() };
    // SAFETY: the node came from `Box::into_raw` and is reclaimed once.
    drop(unsafe { Box::from_raw(node.as_ptr()) });
}

/// The token rides in a node with an embedded head: no allocation by the
/// engine.
pub fn call_rcu_raw<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let node = Box::into_raw(Box::new(RawNode { token, head: RcuHead::new() }));
    // SAFETY: `node` is a valid pointer from `Box::into_raw`; taking the
    // field's address creates no reference.
    let head = unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).head)) };
    let reading = cx.rng.one_in(2);
    discipline::maybe_reading::<F, _>(cx.thread, reading, || {
        // SAFETY: the head is valid and not queued (the node is new); the
        // node stays leaked, unmoved and unused until `free_raw_node`
        // reclaims it; what the callback drops (a `Token`) is `Send`.
        unsafe { F::call_rcu_raw(head, free_raw_node) };
    });
}

/// Queues link `link` of `links`; it counts itself in `ran`, then queues
/// the next link or, as the last, drops the token.
fn queue_link<F: RcuFlavour>(link: u32, links: u32, ran: Arc<AtomicU32>, token: Token) {
    F::call_rcu(move || {
        // Release pairs with the writer's Acquire load after rcu_barrier
        // (which itself orders the callback before its return).
        ran.fetch_add(1, Ordering::Release);
        if link < links {
            queue_link::<F>(link + 1, links, ran, token);
        } else {
            drop(token);
        }
    });
}

/// A chain of callbacks, one `rcu_barrier` per link (see the module docs).
pub fn chain_and_barrier<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let links = 1 + cx.rng.below(4) as u32;
    let index = token.id();
    let ran = Arc::new(AtomicU32::new(0));
    queue_link::<F>(1, links, Arc::clone(&ran), token);
    for barrier in 1..=links {
        discipline::barrier::<F>(cx.thread);
        // Acquire: see `queue_link`.
        let n = ran.load(Ordering::Acquire);
        if n < barrier {
            cx.fail(format_args!(
                "after {barrier} rcu_barrier call(s) only {n} of {links} chained callbacks had run: \
                 rcu_barrier returned before a callback queued before it"
            ));
        }
    }
    if !cx.board.arena.element(index).observe().freed {
        cx.fail(format_args!(
            "rcu_barrier returned {links} times but the last of {links} chained callbacks has not dropped element {index}'s token"
        ));
    }
    // Relaxed: a statistic.
    cx.board.progress.chain_links.fetch_add(u64::from(links), Ordering::Relaxed);
}

/// `kvfree_rcu` of a box: sized, slice or trait object.
pub fn kvfree_box<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    let shape = cx.rng.below(3);
    let reading = cx.rng.one_in(2);
    discipline::maybe_reading::<F, _>(cx.thread, reading, || match shape {
        0 => F::kvfree_rcu(Box::new(token)),
        1 => F::kvfree_rcu(vec![token].into_boxed_slice()),
        _ => F::kvfree_rcu(Box::new(token) as Box<dyn Send>),
    });
}

/// `kvfree_rcu` of a vector with spare capacity, freed without
/// reallocation. One in 32 is large (up to 64 KiB of capacity), so its size
/// takes room in its block (`BYTES_PER_BLOCK_WORD`) and fills it early.
pub fn kvfree_vec<F: RcuFlavour>(cx: &mut PathCtx<'_, F>, token: Token) {
    const LARGE_BYTES: u64 = 64 << 10;
    let capacity = if cx.rng.one_in(32) {
        1 + cx.rng.below(LARGE_BYTES / std::mem::size_of::<Token>() as u64)
    } else {
        1 + cx.rng.below(8)
    };
    let mut v = Vec::with_capacity(capacity as usize);
    v.push(token);
    let reading = cx.rng.one_in(2);
    discipline::maybe_reading::<F, _>(cx.thread, reading, || F::kvfree_rcu(v));
}
