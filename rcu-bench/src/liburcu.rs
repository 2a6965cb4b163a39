//! liburcu (urcu-memb and urcu-qsbr) through the C shim in `csrc/shim.c`.
//!
//! The shim is compiled with `_LGPL_SOURCE`, so liburcu's read-side fast
//! paths are inlined into it. Loops whose per-iteration cost is the figure
//! (read pair, lookup, quiescent state, the harness reader) run inside the
//! shim; operations that cost a grace period or a queue insertion are called
//! one at a time. The two flavours are two types implementing [`Urcu`], so
//! generic code drives either, the way liburcu's `urcu-flavor.h` does.
//!
//! Registration is owned by [`UrcuThread`]: `!Send`, registers on creation,
//! unregisters on drop, so a reader loop can only run on a registered
//! thread. [`UrcuPeer`] is the rest of the crate's only view of liburcu.

mod peer;
pub use peer::UrcuPeer;

pub use crate::workload::UrcuHead;
use crate::workload::{Node, Table};
use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64};

/// Mirror of the shim's `struct rcubench_reader`.
#[repr(C)]
#[derive(Debug)]
pub struct ReaderParams {
    /// The published node.
    pub slot: *const AtomicPtr<Node>,
    /// Nonzero: the reader leaves its loop.
    pub stop: *const AtomicI32,
    /// Reads so far, published every 1,024 reads and at the end.
    pub progress: *const AtomicU64,
    /// Busy-loop iterations inside each read-side section.
    pub read_cs_len: u64,
    /// The value every live node holds.
    pub expected: u64,
    /// Out: nodes seen holding another value.
    pub mismatches: u64,
}

macro_rules! flavour_ffi {
    ($module:ident, $prefix:literal) => {
        /// Raw bindings to the shim's functions for this flavour.
        #[allow(missing_docs)]
        pub mod $module {
            use super::{ReaderParams, UrcuHead};
            use crate::workload::{Node, Table};
            use std::ffi::c_void;
            use std::sync::atomic::AtomicPtr;

            extern "C" {
                #[link_name = concat!($prefix, "register_thread")]
                pub fn register_thread();
                #[link_name = concat!($prefix, "unregister_thread")]
                pub fn unregister_thread();
                #[link_name = concat!($prefix, "read_lock")]
                pub fn read_lock();
                #[link_name = concat!($prefix, "read_unlock")]
                pub fn read_unlock();
                #[link_name = concat!($prefix, "read_ongoing")]
                pub fn read_ongoing() -> i32;
                #[link_name = concat!($prefix, "quiescent_state")]
                pub fn quiescent_state();
                #[link_name = concat!($prefix, "thread_offline")]
                pub fn thread_offline();
                #[link_name = concat!($prefix, "thread_online")]
                pub fn thread_online();
                #[link_name = concat!($prefix, "synchronize_rcu")]
                pub fn synchronize_rcu();
                #[link_name = concat!($prefix, "call_rcu")]
                pub fn call_rcu(head: *mut UrcuHead, func: unsafe extern "C" fn(*mut UrcuHead));
                #[link_name = concat!($prefix, "rcu_barrier")]
                pub fn rcu_barrier();
                #[link_name = concat!($prefix, "defer_register_thread")]
                pub fn defer_register_thread() -> i32;
                #[link_name = concat!($prefix, "defer_unregister_thread")]
                pub fn defer_unregister_thread();
                #[link_name = concat!($prefix, "defer_rcu")]
                pub fn defer_rcu(fct: unsafe extern "C" fn(*mut c_void), p: *mut c_void);
                #[link_name = concat!($prefix, "defer_barrier")]
                pub fn defer_barrier();
                #[link_name = concat!($prefix, "rcu_head_size")]
                pub fn rcu_head_size() -> usize;
                #[link_name = concat!($prefix, "read_loop")]
                pub fn read_loop(iters: u64, slot: *const AtomicPtr<Node>) -> u64;
                #[link_name = concat!($prefix, "lookup_loop")]
                pub fn lookup_loop(iters: u64, slot: *const AtomicPtr<Table>, stride: u64, key_space: u64) -> u64;
                #[link_name = concat!($prefix, "quiescent_loop")]
                pub fn quiescent_loop(iters: u64);
                #[link_name = concat!($prefix, "reader_run")]
                pub fn reader_run(params: *mut ReaderParams) -> u64;
                #[link_name = concat!($prefix, "grace_periods")]
                pub fn grace_periods() -> u64;
            }
        }
    };
}

flavour_ffi!(memb_ffi, "rcubench_memb_");
flavour_ffi!(qsbr_ffi, "rcubench_qsbr_");

/// One liburcu flavour, for generic code.
///
/// The functions are the shim's, with liburcu's rules: the `unsafe` ones
/// state their preconditions.
pub trait Urcu: Sized + 'static {
    /// The name in reports (`"liburcu-memb"`, `"liburcu-qsbr"`).
    const NAME: &'static str;
    /// Whether readers must announce quiescent states.
    const IS_QSBR: bool;

    /// # Safety
    /// The calling thread is not registered with this flavour.
    unsafe fn register_thread();
    /// # Safety
    /// The calling thread is registered and outside any read-side section.
    unsafe fn unregister_thread();
    /// # Safety
    /// The calling thread is registered (QSBR: it may be offline).
    unsafe fn quiescent_state();
    /// # Safety
    /// The calling thread is registered and holds no RCU reference.
    unsafe fn thread_offline();
    /// # Safety
    /// The calling thread is registered and offline.
    unsafe fn thread_online();
    /// Waits for a grace period. liburcu handles unregistered callers and
    /// (QSBR) online callers, which it takes offline while waiting; the
    /// caller must not be inside a read-side section, which this crate's
    /// safe API never leaves open.
    fn synchronize_rcu();
    /// # Safety
    /// `head` is valid until `func` runs and is not queued twice; the
    /// calling thread is registered (QSBR: online or offline).
    unsafe fn call_rcu(head: NonNull<UrcuHead>, func: unsafe extern "C" fn(*mut UrcuHead));
    /// Waits until every callback queued before the call has run. Must not
    /// be called from a callback (liburcu returns early there).
    fn rcu_barrier();
    /// Grace periods completed so far (QSBR: from `urcu_qsbr_gp.ctr`);
    /// `None` for memb, whose counter only flips a phase bit.
    fn grace_periods() -> Option<u64>;
    /// # Safety
    /// The calling thread is not yet registered for `defer_rcu`.
    unsafe fn defer_register_thread() -> i32;
    /// # Safety
    /// The calling thread is registered for `defer_rcu`, outside read-side
    /// sections (it drains its queue with a grace period).
    unsafe fn defer_unregister_thread();
    /// # Safety
    /// The calling thread is registered for `defer_rcu` and outside any
    /// read-side section (`defer_rcu` waits for a grace period when its
    /// queue is full); `fct(p)` is safe to run after a grace period.
    unsafe fn defer_rcu(fct: unsafe extern "C" fn(*mut c_void), p: *mut c_void);
    /// # Safety
    /// The calling thread is outside any read-side section.
    unsafe fn defer_barrier();
    /// `sizeof(struct rcu_head)` as the C compiler sees it.
    fn rcu_head_size() -> usize;
    /// # Safety
    /// Registered (and online) thread; `slot` always holds a valid node.
    unsafe fn read_loop(iters: u64, slot: &AtomicPtr<Node>) -> u64;
    /// # Safety
    /// Registered (and online) thread; `slot` always holds a valid table.
    unsafe fn lookup_loop(iters: u64, slot: &AtomicPtr<Table>, stride: u64, key_space: u64) -> u64;
    /// # Safety
    /// Registered thread.
    unsafe fn quiescent_loop(iters: u64);
    /// # Safety
    /// Registered (and online) thread; every pointer in `params` is valid
    /// for the whole call and `slot` always holds a valid node.
    unsafe fn reader_run(params: &mut ReaderParams) -> u64;
    /// # Safety
    /// Registered thread.
    unsafe fn read_ongoing() -> bool;
    /// # Safety
    /// Registered (and online) thread; pair with [`Urcu::read_unlock`].
    unsafe fn read_lock();
    /// # Safety
    /// Inside a section opened by [`Urcu::read_lock`] on this thread.
    unsafe fn read_unlock();
}

macro_rules! impl_urcu {
    ($ty:ident, $module:ident, $name:literal, $qsbr:literal) => {
        impl Urcu for $ty {
            const NAME: &'static str = $name;
            const IS_QSBR: bool = $qsbr;
            unsafe fn register_thread() {
                // SAFETY: forwarded precondition.
                unsafe { $module::register_thread() }
            }
            unsafe fn unregister_thread() {
                // SAFETY: forwarded precondition.
                unsafe { $module::unregister_thread() }
            }
            unsafe fn quiescent_state() {
                // SAFETY: forwarded precondition.
                unsafe { $module::quiescent_state() }
            }
            unsafe fn thread_offline() {
                // SAFETY: forwarded precondition.
                unsafe { $module::thread_offline() }
            }
            unsafe fn thread_online() {
                // SAFETY: forwarded precondition.
                unsafe { $module::thread_online() }
            }
            fn synchronize_rcu() {
                // SAFETY: liburcu's synchronize_rcu accepts any thread that
                // is not inside a read-side section; the safe API of this
                // module never leaves one open across a call.
                unsafe { $module::synchronize_rcu() }
            }
            unsafe fn call_rcu(head: NonNull<UrcuHead>, func: unsafe extern "C" fn(*mut UrcuHead)) {
                // SAFETY: forwarded precondition.
                unsafe { $module::call_rcu(head.as_ptr(), func) }
            }
            fn rcu_barrier() {
                // SAFETY: no precondition beyond "not from a callback", which
                // Rust callers of this crate never are.
                unsafe { $module::rcu_barrier() }
            }
            fn grace_periods() -> Option<u64> {
                // SAFETY: reads one shared word; no precondition.
                let n = unsafe { $module::grace_periods() };
                (n != u64::MAX).then_some(n)
            }
            unsafe fn defer_register_thread() -> i32 {
                // SAFETY: forwarded precondition.
                unsafe { $module::defer_register_thread() }
            }
            unsafe fn defer_unregister_thread() {
                // SAFETY: forwarded precondition.
                unsafe { $module::defer_unregister_thread() }
            }
            unsafe fn defer_rcu(fct: unsafe extern "C" fn(*mut c_void), p: *mut c_void) {
                // SAFETY: forwarded precondition.
                unsafe { $module::defer_rcu(fct, p) }
            }
            unsafe fn defer_barrier() {
                // SAFETY: forwarded precondition.
                unsafe { $module::defer_barrier() }
            }
            fn rcu_head_size() -> usize {
                // SAFETY: returns a constant.
                unsafe { $module::rcu_head_size() }
            }
            unsafe fn read_loop(iters: u64, slot: &AtomicPtr<Node>) -> u64 {
                // SAFETY: forwarded precondition; `AtomicPtr<Node>` has the
                // layout of `Node *`.
                unsafe { $module::read_loop(iters, slot) }
            }
            unsafe fn lookup_loop(iters: u64, slot: &AtomicPtr<Table>, stride: u64, key_space: u64) -> u64 {
                // SAFETY: forwarded precondition; `AtomicPtr<Table>` has the
                // layout of `Table *`.
                unsafe { $module::lookup_loop(iters, slot, stride, key_space) }
            }
            unsafe fn quiescent_loop(iters: u64) {
                // SAFETY: forwarded precondition.
                unsafe { $module::quiescent_loop(iters) }
            }
            unsafe fn reader_run(params: &mut ReaderParams) -> u64 {
                // SAFETY: forwarded precondition.
                unsafe { $module::reader_run(params) }
            }
            unsafe fn read_ongoing() -> bool {
                // SAFETY: forwarded precondition.
                unsafe { $module::read_ongoing() != 0 }
            }
            unsafe fn read_lock() {
                // SAFETY: forwarded precondition.
                unsafe { $module::read_lock() }
            }
            unsafe fn read_unlock() {
                // SAFETY: forwarded precondition.
                unsafe { $module::read_unlock() }
            }
        }
    };
}

/// liburcu's urcu-memb flavour (membarrier-based readers).
#[derive(Debug)]
pub struct LibMemb;
/// liburcu's urcu-qsbr flavour.
#[derive(Debug)]
pub struct LibQsbr;

impl_urcu!(LibMemb, memb_ffi, "liburcu-memb", false);
impl_urcu!(LibQsbr, qsbr_ffi, "liburcu-qsbr", true);

/// The calling thread's registration with liburcu flavour `F`: created
/// registered (and online, QSBR), unregistered on drop. `!Send`.
#[derive(Debug)]
pub struct UrcuThread<F: Urcu> {
    online: bool,
    _not_send: PhantomData<(*const (), F)>,
}

impl<F: Urcu> UrcuThread<F> {
    /// Registers the calling thread.
    ///
    /// Two live `UrcuThread<F>` on one thread would register it twice, which
    /// liburcu does not allow; the registry below makes that a panic.
    pub fn register() -> Self {
        REGISTERED.with(|r| {
            let bit = if F::IS_QSBR { 2 } else { 1 };
            assert!(r.get() & bit == 0, "{}: this thread already holds an UrcuThread; keep one per thread", F::NAME);
            r.set(r.get() | bit);
        });
        // SAFETY: the thread-local bit above proves the thread is not
        // registered with this flavour.
        unsafe { F::register_thread() };
        UrcuThread { online: true, _not_send: PhantomData }
    }

    /// Goes offline (QSBR: grace periods stop waiting for this thread; a
    /// no-op for memb). Idempotent.
    pub fn offline(&mut self) {
        if self.online {
            // SAFETY: registered (self exists), online, and no reference is
            // held: every loop of this module ends its sections.
            unsafe { F::thread_offline() };
            self.online = false;
        }
    }

    /// Comes back online. Idempotent.
    pub fn online(&mut self) {
        if !self.online {
            // SAFETY: registered and offline.
            unsafe { F::thread_online() };
            self.online = true;
        }
    }

    /// Announces a quiescent state (QSBR; a no-op for memb).
    pub fn quiescent_state(&mut self) {
        // SAFETY: registered.
        unsafe { F::quiescent_state() }
    }

    /// `iters` read-side sections dereferencing `slot`; returns the sum read.
    pub fn read_loop(&mut self, iters: u64, slot: &AtomicPtr<Node>) -> u64 {
        self.online();
        // SAFETY: registered and online; `slot` always holds a valid node
        // (the harness publishes only live nodes and retires them through
        // this flavour's grace periods).
        unsafe { F::read_loop(iters, slot) }
    }

    /// `iters` lookups in the table published in `slot`; returns hits.
    pub fn lookup_loop(&mut self, iters: u64, slot: &AtomicPtr<Table>, stride: u64, key_space: u64) -> u64 {
        self.online();
        // SAFETY: as in `read_loop`, for tables.
        unsafe { F::lookup_loop(iters, slot, stride, key_space) }
    }

    /// `iters` quiescent states.
    pub fn quiescent_loop(&mut self, iters: u64) {
        self.online();
        // SAFETY: registered.
        unsafe { F::quiescent_loop(iters) }
    }

    /// The harness reader loop, until `stop`; returns (reads, mismatches).
    pub fn reader_run(
        &mut self,
        slot: &AtomicPtr<Node>,
        stop: &AtomicI32,
        progress: &AtomicU64,
        read_cs_len: u64,
        expected: u64,
    ) -> (u64, u64) {
        self.online();
        let mut params = ReaderParams { slot, stop, progress, read_cs_len, expected, mismatches: 0 };
        // SAFETY: registered and online; the references outlive the call.
        let reads = unsafe { F::reader_run(&mut params) };
        (reads, params.mismatches)
    }

    /// Waits for a grace period from this registered thread (liburcu takes
    /// an online QSBR thread offline while it waits).
    pub fn synchronize_rcu(&mut self) {
        F::synchronize_rcu();
    }
}

impl<F: Urcu> Drop for UrcuThread<F> {
    fn drop(&mut self) {
        // SAFETY: registered (created by `register`), and no section is
        // open: every loop of this module closes its sections.
        unsafe { F::unregister_thread() };
        REGISTERED.with(|r| r.set(r.get() & !if F::IS_QSBR { 2 } else { 1 }));
    }
}

thread_local! {
    /// Bit 1: registered with liburcu-memb; bit 2: with liburcu-qsbr.
    static REGISTERED: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// The calling thread's `defer_rcu` registration with one flavour: made on
/// first use, undone by the thread-local destructor at thread exit.
///
/// liburcu cannot register a thread for `defer_rcu` again once it has
/// deferred anything and unregistered (`rcu_defer_register_thread` asserts
/// that a per-thread index is zero, and unregistering does not reset it), so
/// the registration lives as long as the thread.
#[derive(Debug)]
pub struct DeferRegistration {
    registered: std::cell::Cell<bool>,
    unregister: unsafe extern "C" fn(),
}

impl DeferRegistration {
    const fn new(unregister: unsafe extern "C" fn()) -> Self {
        DeferRegistration { registered: std::cell::Cell::new(false), unregister }
    }
}

impl Drop for DeferRegistration {
    fn drop(&mut self) {
        if self.registered.get() {
            // SAFETY: registered on this thread (the flag), and at thread
            // exit no read-side section is open.
            unsafe { (self.unregister)() }
        }
    }
}

thread_local! {
    static DEFER_MEMB: DeferRegistration = const { DeferRegistration::new(memb_ffi::defer_unregister_thread) };
    static DEFER_QSBR: DeferRegistration = const { DeferRegistration::new(qsbr_ffi::defer_unregister_thread) };
}

fn ensure_defer_registered<F: Urcu>() {
    let key = if F::IS_QSBR { &DEFER_QSBR } else { &DEFER_MEMB };
    key.with(|reg| {
        if !reg.registered.get() {
            // SAFETY: not registered yet on this thread (the flag).
            let rc = unsafe { F::defer_register_thread() };
            assert_eq!(rc, 0, "{}: rcu_defer_register_thread() failed (out of memory)", F::NAME);
            reg.registered.set(true);
        }
    });
}

/// Frees `node` after a grace period with liburcu's `defer_rcu` (the calling
/// thread is registered for it on first use). May wait for a grace period
/// when the thread's defer queue is full (liburcu's design), so the caller
/// must not be inside a read-side section (this crate's safe API never
/// leaves one open).
pub fn defer_free_node<F: Urcu>(node: Box<Node>) {
    unsafe extern "C" fn free_node(p: *mut c_void) {
        // SAFETY: `p` came from `Box::into_raw` below and liburcu runs this
        // exactly once, after a grace period.
        drop(unsafe { Box::from_raw(p.cast::<Node>()) });
    }
    ensure_defer_registered::<F>();
    // SAFETY: registered for defer; outside read-side sections (above); the
    // node is unpublished, so freeing it after a grace period is safe.
    unsafe { F::defer_rcu(free_node, Box::into_raw(node).cast()) }
}

/// Waits until everything deferred with `defer_rcu` (by any thread) has been
/// freed. Outside read-side sections only, as [`defer_free_node`].
pub fn defer_barrier<F: Urcu>() {
    // SAFETY: no read-side section is open (this crate's safe API never
    // leaves one open).
    unsafe { F::defer_barrier() }
}

/// Frees `node` after a grace period with liburcu's `call_rcu`, through the
/// `rcu_head` embedded in it. The calling thread must hold an
/// [`UrcuThread<F>`] (`_thread` proves it).
pub fn call_rcu_free_node<F: Urcu>(_thread: &UrcuThread<F>, node: Box<Node>) {
    unsafe extern "C" fn free_node(head: *mut UrcuHead) {
        // SAFETY: `head` is the `urcu_head` field of a `Node` leaked below
        // (repr(C), so the node starts `HEAD_OFFSET` bytes before it); liburcu
        // calls this once, after a grace period.
        let node = unsafe { head.byte_sub(Node::HEAD_OFFSET).cast::<Node>() };
        // SAFETY: as above; the node came from `Box::into_raw`.
        drop(unsafe { Box::from_raw(node) });
    }
    let node = Box::into_raw(node);
    // SAFETY: `node` is a valid leaked box; its head is not queued elsewhere.
    let head = unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).urcu_head)) };
    // SAFETY: the head stays valid until `free_node` frees it; the thread is
    // registered (UrcuThread proves it).
    unsafe { F::call_rcu(head, free_node) }
}
