//! What `kvfree_rcu` accepts ([`RcuFree`]: `Box` and `Vec`; and, for the
//! C ABI, a C function with its argument) and the type-erased [`Entry`] a
//! block stores for it.

use crate::defer::block::{drop_box, drop_vec, DropFn, MAX_ARITY};

mod sealed {
    pub trait Sealed {}
    impl<T: ?Sized> Sealed for Box<T> {}
    impl<T> Sealed for Vec<T> {}
}

/// An object type-erased for a kvfree block: its drop function, the
/// words of its raw parts (1 to 3 of `words` used) and the bytes it
/// occupies (what it owns beyond that is not seen).
#[derive(Debug)]
pub struct Entry {
    pub(crate) drop: DropFn,
    pub(crate) words: [usize; MAX_ARITY],
    pub(crate) arity: usize,
    pub(crate) held: usize,
}

impl Entry {
    /// Drops the object now: for a caller that keeps entries itself and
    /// has waited for their grace period (an srcu domain's reclaim).
    pub fn drop_now(self) {
        // SAFETY: `drop` and `words` come from one `into_entry` (or
        // `c_call`), whose drop function reads the words back exactly once;
        // `self` is consumed, so it cannot run twice.
        unsafe { (self.drop)(self.words.as_ptr()) }
    }
}

/// What `kvfree_rcu` can free after a grace period with no head inside:
/// `Box<T>` (also `Box<[T]>`, `Box<dyn Trait + Send>`, zero-sized `T`) and
/// `Vec<T>` (without reallocating it). Sealed.
pub trait RcuFree: sealed::Sealed + Send + 'static {
    /// Gives up ownership as an [`Entry`], dropped later by its function.
    fn into_entry(self) -> Entry;
}

impl<T: ?Sized + Send + 'static> RcuFree for Box<T> {
    #[inline]
    fn into_entry(self) -> Entry {
        let held = std::mem::size_of_val::<T>(&*self);
        let mut words = [0usize; MAX_ARITY];
        const { assert!(std::mem::size_of::<*mut T>() <= MAX_ARITY * std::mem::size_of::<usize>()) };
        // SAFETY: a raw (possibly fat) pointer fits in the words (checked
        // above) and is plain data; `drop_box::<T>` reads it back once.
        unsafe { words.as_mut_ptr().cast::<*mut T>().write(Box::into_raw(self)) };
        Entry { drop: drop_box::<T>, words, arity: std::mem::size_of::<*mut T>() / std::mem::size_of::<usize>(), held }
    }
}

impl<T: Send + 'static> RcuFree for Vec<T> {
    #[inline]
    fn into_entry(self) -> Entry {
        let mut v = std::mem::ManuallyDrop::new(self);
        // No overflow: an allocated capacity's bytes fit in `isize`, and
        // zero-sized `T` (capacity `usize::MAX`) occupy nothing.
        let held = v.capacity() * std::mem::size_of::<T>();
        Entry { drop: drop_vec::<T>, words: [v.as_mut_ptr() as usize, v.len(), v.capacity()], arity: 3, held }
    }
}

/// A C function the C ABI's `call_rcu` / `defer_rcu` defer: called once,
/// with its argument, after a grace period.
pub type CDeferredFn = unsafe extern "C" fn(*mut std::ffi::c_void);

impl Entry {
    /// `func(arg)` as a two-word entry (no head, no allocation).
    pub(crate) fn c_call(func: CDeferredFn, arg: *mut std::ffi::c_void) -> Entry {
        Entry { drop: run_c_call, words: [func as usize, arg as usize, 0], arity: 2, held: 0 }
    }
}

/// # Safety
///
/// `entry` points to the two words of an `Entry::c_call`, and the call is
/// made once, after the grace period its enqueuer asked for.
unsafe fn run_c_call(entry: *const usize) {
    // SAFETY: per the contract, two words: the function, then its argument.
    let (func, arg) = unsafe { (entry.read(), entry.add(1).read()) };
    // SAFETY: the first word came from a `CDeferredFn` (`Entry::c_call`).
    let func: CDeferredFn = unsafe { std::mem::transmute::<usize, CDeferredFn>(func) };
    // SAFETY: the enqueuer's contract (`Engine::defer_c_call`): sound to
    // call once, on the reclaim thread, now that the grace period is over.
    // A C function cannot unwind into Rust (an `extern "C"` call aborts).
    unsafe { func(arg as *mut std::ffi::c_void) };
}
