//! Deferred reclamation of this workspace's flavours, for generic
//! benchmark code: `call_rcu`, `call_rcu_raw`, `kvfree_rcu`, `rcu_barrier`
//! and the reclamation statistics, behind one trait so the benches,
//! `rcu-bench run -m call|kvfree` and the `flood` kinds are written once
//! for both flavours.

use rcu_core::{CallbackFn, RcuHead};
use std::ptr::NonNull;

/// One of this workspace's flavours, for generic reclamation benchmarks.
pub trait OurReclaim: 'static {
    /// The name in reports.
    const NAME: &'static str;
    /// `call_rcu(f)`.
    fn call_rcu<F: FnOnce() + Send + 'static>(f: F);
    /// `call_rcu_raw(head, func)`.
    ///
    /// # Safety
    /// As the flavour's `call_rcu_raw`: `head` stays valid and in place
    /// until `func` runs, and is not queued twice.
    unsafe fn call_rcu_raw(head: NonNull<RcuHead>, func: CallbackFn);
    /// `kvfree_rcu(b)`: headless deferred drop of a box.
    fn kvfree_rcu<T: Send + 'static>(b: Box<T>);
    /// `rcu_barrier()`.
    fn rcu_barrier();
    /// Grace periods completed so far (`stats().grace_periods`).
    fn grace_periods() -> u64;
    /// Largest callback backlog so far (`stats().peak_callback_backlog`).
    fn peak_callback_backlog() -> u64;
}

macro_rules! impl_our_reclaim {
    ($ty:ty, $krate:ident, $name:literal) => {
        impl OurReclaim for $ty {
            const NAME: &'static str = $name;
            fn call_rcu<F: FnOnce() + Send + 'static>(f: F) {
                $krate::call_rcu(f)
            }
            unsafe fn call_rcu_raw(head: NonNull<RcuHead>, func: CallbackFn) {
                // SAFETY: forwarded precondition.
                unsafe { $krate::call_rcu_raw(head, func) }
            }
            fn kvfree_rcu<T: Send + 'static>(b: Box<T>) {
                $krate::kvfree_rcu(b)
            }
            fn rcu_barrier() {
                $krate::rcu_barrier()
            }
            fn grace_periods() -> u64 {
                $krate::stats().grace_periods
            }
            fn peak_callback_backlog() -> u64 {
                $krate::stats().peak_callback_backlog
            }
        }
    };
}

impl_our_reclaim!(rcu_memb::Memb, rcu_memb, "rcu-memb");
impl_our_reclaim!(rcu_qsbr::Qsbr, rcu_qsbr, "rcu-qsbr");

/// A node with an intrusive head, for `call_rcu_raw`.
#[repr(C)]
#[derive(Debug)]
pub struct RawNode {
    /// The intrusive head (first field, so head and node share an address).
    pub head: RcuHead,
    /// Payload, the same size as [`crate::workload::Node`]'s.
    pub value: u64,
}

impl RawNode {
    /// A node with an unqueued head.
    pub fn new_boxed() -> Box<RawNode> {
        Box::new(RawNode { head: RcuHead::new(), value: crate::workload::NODE_VALUE })
    }
}

/// Frees a [`RawNode`] from its head: the `func` passed to `call_rcu_raw`.
///
/// # Safety
/// `head` is the head of a `Box<RawNode>` leaked with `Box::into_raw`, and
/// this runs once.
pub unsafe fn free_raw_node(head: NonNull<RcuHead>) {
    // SAFETY: `head` is the first field of a repr(C) RawNode leaked from a
    // Box (precondition), so the cast gives back that box.
    drop(unsafe { Box::from_raw(head.cast::<RawNode>().as_ptr()) });
}

/// Queues `node` for freeing after a grace period through `call_rcu_raw`.
pub fn call_rcu_raw_free<F: OurReclaim>(node: Box<RawNode>) {
    let node = Box::into_raw(node);
    // SAFETY: `node` is a valid leaked box; the head is its first field.
    let head = unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).head)) };
    // SAFETY: the head lives until `free_raw_node` frees the node, once.
    unsafe { F::call_rcu_raw(head, free_raw_node) }
}
