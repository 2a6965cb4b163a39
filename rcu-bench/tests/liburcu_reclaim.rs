//! liburcu's call_rcu and defer_rcu, as the harness uses them, free every
//! node they are given by the time the barrier returns (feature `liburcu`).
//!
//! Frees are counted by a global allocator that counts live allocations of
//! `Node`'s layout; this file holds a single test so nothing else allocates
//! nodes meanwhile.
#![cfg(feature = "liburcu")]

use rcu_bench::liburcu::{call_rcu_free_node, defer_barrier, defer_free_node, LibMemb, LibQsbr, Urcu, UrcuThread};
use rcu_bench::workload::Node;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

struct CountingAllocator;

static LIVE_NODES: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout == Layout::new::<Node>() {
            LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout == Layout::new::<Node>() {
            LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn every_node_is_freed_by_the_barrier<F: Urcu>() {
    let base = LIVE_NODES.load(Ordering::Relaxed);
    let mut t = UrcuThread::<F>::register();
    for _ in 0..1000 {
        call_rcu_free_node(&t, Node::new_boxed());
    }
    t.offline();
    F::rcu_barrier();
    assert_eq!(LIVE_NODES.load(Ordering::Relaxed), base, "{}: call_rcu left nodes", F::NAME);

    for _ in 0..1000 {
        defer_free_node::<F>(Node::new_boxed());
    }
    defer_barrier::<F>();
    assert_eq!(LIVE_NODES.load(Ordering::Relaxed), base, "{}: defer_rcu left nodes", F::NAME);
}

#[test]
fn call_rcu_and_defer_rcu_free_every_node_by_the_barrier() {
    every_node_is_freed_by_the_barrier::<LibMemb>();
    every_node_is_freed_by_the_barrier::<LibQsbr>();
}
