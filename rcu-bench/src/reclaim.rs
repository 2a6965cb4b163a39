//! Deferred reclamation of this workspace's flavours (`call_rcu`,
//! `call_rcu_raw`, `kvfree_rcu`, `rcu_barrier`), behind the `reclaim-api`
//! feature until those functions land in rcu-memb and rcu-qsbr (issues 3
//! and 4; names from shared/API.md). After `git merge main` brings them,
//! enable the feature by default (or drop the `cfg`s): this module is the
//! only place that names them, so the benches, `rcu-bench run -m call|kvfree`
//! and `rcu-bench flood` pick them up from here.

use std::ptr::NonNull;

/// One of this workspace's flavours, for generic reclamation benchmarks.
pub trait OurReclaim: 'static {
    /// The name in reports.
    const NAME: &'static str;
    /// The flavour's intrusive callback head.
    type Head: 'static;
    /// A fresh, unqueued head.
    fn new_head() -> Self::Head;
    /// `call_rcu(f)`.
    fn call_rcu<F: FnOnce() + Send + 'static>(f: F);
    /// `call_rcu_raw(head, func)`.
    ///
    /// # Safety
    /// As the flavour's `call_rcu_raw`: `head` stays valid until `func`
    /// runs and is not queued twice.
    unsafe fn call_rcu_raw(head: NonNull<Self::Head>, func: unsafe fn(NonNull<Self::Head>));
    /// `kvfree_rcu(b)`.
    fn kvfree_rcu<T: Send + 'static>(b: Box<T>);
    /// `rcu_barrier()`.
    fn rcu_barrier();
    /// Grace periods completed so far (`stats().grace_periods`).
    fn grace_periods() -> u64;
}

macro_rules! impl_our_reclaim {
    ($ty:ty, $krate:ident, $name:literal) => {
        impl OurReclaim for $ty {
            const NAME: &'static str = $name;
            type Head = $krate::RcuHead;
            fn new_head() -> Self::Head {
                $krate::RcuHead::new()
            }
            fn call_rcu<F: FnOnce() + Send + 'static>(f: F) {
                $krate::call_rcu(f)
            }
            unsafe fn call_rcu_raw(
                head: NonNull<Self::Head>,
                func: unsafe fn(NonNull<Self::Head>),
            ) {
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
        }
    };
}

impl_our_reclaim!(rcu_memb::Memb, rcu_memb, "rcu-memb");
impl_our_reclaim!(rcu_qsbr::Qsbr, rcu_qsbr, "rcu-qsbr");

/// A node with an intrusive head, for `call_rcu_raw`.
#[repr(C)]
#[derive(Debug)]
pub struct RawNode<H> {
    /// The flavour's head (first field, so head and node share an address).
    pub head: H,
    /// Payload, the same size as [`crate::workload::Node`]'s.
    pub value: u64,
}

/// Frees a [`RawNode`] from its head: the `func` passed to `call_rcu_raw`.
///
/// # Safety
/// `head` is the head of a `Box<RawNode<H>>` leaked with `Box::into_raw`,
/// and this runs once.
pub unsafe fn free_raw_node<H>(head: NonNull<H>) {
    // SAFETY: `head` is the first field of a repr(C) RawNode<H> leaked from
    // a Box (precondition), so the cast gives back that box.
    drop(unsafe { Box::from_raw(head.cast::<RawNode<H>>().as_ptr()) });
}

/// Queues `node` for freeing after a grace period through `call_rcu_raw`.
pub fn call_rcu_raw_free<F: OurReclaim>(node: Box<RawNode<F::Head>>) {
    let node = Box::into_raw(node);
    // SAFETY: `node` is a valid leaked box; the head is its first field.
    let head = unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).head)) };
    // SAFETY: the head lives until `free_raw_node` frees the node, once.
    unsafe { F::call_rcu_raw(head, free_raw_node::<F::Head>) }
}
