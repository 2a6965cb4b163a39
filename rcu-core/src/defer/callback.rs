//! Callbacks: the intrusive `RcuHead`, boxed closures, and invoking them
//! with panics contained.
//!
//! A callback is an `RcuHead` plus the function to call with it. `call_rcu_raw`
//! takes a head embedded in the user's object (no allocation, liburcu and
//! kernel style). `call_rcu` boxes the closure together with a head and the
//! caller's source location, so a panic can name where the callback was
//! queued; a small closure's box is a recycled slot ([`slot_pool`]).
//!
//! # Panics in callbacks
//!
//! The reclaim thread catches a panicking callback, counts it
//! (`Stats::callback_panics`), prints which callback it was (the `call_rcu`
//! call site, or the `call_rcu_raw` function's address) and goes on with the
//! rest: one bad callback neither kills the reclaim thread nor strands the
//! callbacks queued after it. The panic message itself is printed by the
//! panic hook as usual.

use super::slot_pool;
use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::AtomicPtr;

/// The function a callback runs, given its head.
pub type CallbackFn = unsafe fn(NonNull<RcuHead>);

/// An intrusive callback head, embedded in the user's object for
/// `call_rcu_raw` (liburcu's and the kernel's `struct rcu_head`).
///
/// It holds the queue link and the function; it must stay in place (not
/// moved, not freed) from `call_rcu_raw` until the function runs.
#[repr(C)]
pub struct RcuHead {
    /// Next head in the callback queue (see `queue.rs`).
    pub(crate) next: AtomicPtr<RcuHead>,
    /// Written by the enqueuer before the head is published, read by the
    /// reclaim thread after it took the head from the queue.
    func: UnsafeCell<Option<CallbackFn>>,
}

// SAFETY: `next` is atomic; `func` is written only by the thread that
// enqueues the head, before publishing it (Release in the queue), and read
// only by the reclaim thread after taking it (Acquire), so there is no
// concurrent access to it.
unsafe impl Sync for RcuHead {}
// SAFETY: a head is plain data (a pointer and a function pointer).
unsafe impl Send for RcuHead {}

impl RcuHead {
    /// A head not queued anywhere.
    pub const fn new() -> Self {
        RcuHead { next: AtomicPtr::new(std::ptr::null_mut()), func: UnsafeCell::new(None) }
    }

    /// Records the function; called by the enqueuer before publishing.
    ///
    /// # Safety
    ///
    /// The head must not be in a queue (no other thread reads `func`).
    pub(crate) unsafe fn set_func(&self, func: CallbackFn) {
        // SAFETY: per the contract, this thread has exclusive access.
        unsafe { *self.func.get() = Some(func) };
    }

    /// The recorded function.
    ///
    /// # Safety
    ///
    /// Only the reclaim thread, after taking the head from the queue.
    pub(crate) unsafe fn func(&self) -> CallbackFn {
        // SAFETY: per the contract, the enqueuer's write happened before
        // (queue Release/Acquire) and no one writes concurrently.
        unsafe { (*self.func.get()).expect("an enqueued RcuHead always has a function") }
    }
}

impl Default for RcuHead {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RcuHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RcuHead").finish_non_exhaustive()
    }
}

/// A boxed `call_rcu` closure: head first, so a head pointer is a box pointer.
#[repr(C)]
struct BoxedCallback<C> {
    head: RcuHead,
    origin: &'static Location<'static>,
    callback: C,
}

thread_local! {
    /// The `call_rcu` call site of the boxed callback running now, for the
    /// panic report (set by `invoke_boxed`, cleared by `invoke`).
    static RUNNING_ORIGIN: Cell<Option<&'static Location<'static>>> = const { Cell::new(None) };
}

/// Boxes `callback` with a head; returns the head and the function that
/// runs and frees it. A callback that fits a pool slot (a few captured
/// words) takes a recycled slot (see [`slot_pool`]); others one `Box`.
#[inline]
pub(crate) fn box_callback<C: FnOnce() + Send + 'static>(
    callback: C,
    origin: &'static Location<'static>,
) -> (NonNull<RcuHead>, CallbackFn) {
    let boxed = BoxedCallback { head: RcuHead::new(), origin, callback };
    if slot_pool::fits::<BoxedCallback<C>>() {
        let slot = slot_pool::take().cast::<BoxedCallback<C>>();
        // SAFETY: a slot is SLOT_BYTES bytes aligned to SLOT_ALIGN, which
        // `fits` checked for this type, and owned by us until released.
        unsafe { slot.as_ptr().write(boxed) };
        // The head is the first field of a repr(C) struct: same address.
        return (slot.cast::<RcuHead>(), invoke_pooled::<C>);
    }
    // The head is the first field of a repr(C) struct: same address.
    let head = NonNull::from(Box::leak(Box::new(boxed))).cast::<RcuHead>();
    (head, invoke_boxed::<C>)
}

/// # Safety
///
/// `head` came from `box_callback::<C>` through a pool slot and is invoked
/// once.
unsafe fn invoke_pooled<C: FnOnce()>(head: NonNull<RcuHead>) {
    let slot = head.cast::<BoxedCallback<C>>();
    // SAFETY: per the contract, the slot holds a `BoxedCallback<C>` written
    // by `box_callback` and read exactly once, here; the slot is released
    // right after, before the callback can panic.
    let boxed = unsafe { slot.as_ptr().read() };
    // SAFETY: the value was moved out above; nothing refers to the slot.
    unsafe { slot_pool::release(slot.cast()) };
    RUNNING_ORIGIN.with(|o| o.set(Some(boxed.origin)));
    (boxed.callback)();
}

/// # Safety
///
/// `head` came from `box_callback::<C>` and is invoked once.
unsafe fn invoke_boxed<C: FnOnce()>(head: NonNull<RcuHead>) {
    // SAFETY: per the contract, `head` is the first field of a leaked
    // `Box<BoxedCallback<C>>`; ownership returns to this box exactly once.
    let boxed = unsafe { Box::from_raw(head.cast::<BoxedCallback<C>>().as_ptr()) };
    RUNNING_ORIGIN.with(|o| o.set(Some(boxed.origin)));
    (boxed.callback)();
}

/// Runs one callback, containing a panic. Returns whether it panicked.
///
/// # Safety
///
/// `head` was taken from the callback queue and its grace period is over.
pub(crate) unsafe fn invoke(head: NonNull<RcuHead>, flavour: &str) -> bool {
    // SAFETY: per the contract, the reclaim thread owns the dequeued head.
    let func = unsafe { head.as_ref().func() };
    let _ = RUNNING_ORIGIN.try_with(|o| o.set(None));
    // SAFETY: the function was registered for this head by its enqueuer and
    // the grace period it asked for has elapsed.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { func(head) }));
    let panicked = result.is_err();
    if let Err(payload) = result {
        // A payload whose destructor panics too must not escape into the
        // reclaim thread's loop.
        if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(again);
            eprintln!("rcu_{flavour}: dropping a callback's panic payload panicked too; leaked");
        }
        let origin = RUNNING_ORIGIN.try_with(Cell::get).ok().flatten();
        match origin {
            Some(loc) => eprintln!(
                "rcu_{flavour}: the call_rcu callback queued at {loc} panicked; \
                 the reclaim thread goes on with the other callbacks"
            ),
            None => eprintln!(
                "rcu_{flavour}: the call_rcu_raw callback {:p} panicked; \
                 the reclaim thread goes on with the other callbacks",
                func as *const ()
            ),
        }
    }
    panicked
}
