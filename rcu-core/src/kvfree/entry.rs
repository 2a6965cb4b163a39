//! What `kvfree_rcu` accepts ([`RcuFree`]: `Box` and `Vec`) and the
//! type-erased [`Entry`] a block stores for it.

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
