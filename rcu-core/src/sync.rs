//! Atomics and locks, from `std` normally and from `loom` under `cfg(loom)`,
//! so the grace-period protocol is model-checked with the code that ships.

#[cfg(not(loom))]
pub(crate) mod atomic {
    pub use std::sync::atomic::{
        compiler_fence, fence, AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering,
    };
}

#[cfg(loom)]
pub(crate) mod atomic {
    pub use loom::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
}

/// Busy-wait hint: a pause instruction normally, a scheduler yield under
/// loom (which must see the spinning thread give way to make progress).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}
