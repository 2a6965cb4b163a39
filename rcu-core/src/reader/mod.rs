//! The reader side: how a thread announces a read-side section, where its
//! announcement lives, and how a writer waits for it.
//!
//! * `slot`: the reader slot and the two counter protocols (phase flip for
//!   memb, increment for QSBR);
//! * `registry`: a fixed set of slots that threads claim and release;
//! * `slot_ptr`: the thread-local pointers to a thread's slots;
//! * `wait`: waiting for one reader (spin, then futex), with its waker.

#[cfg(not(loom))]
pub(crate) mod registry;
mod slot;
#[cfg(not(loom))]
mod slot_ptr;
pub mod wait;

pub use slot::{memb, qsbr, Protocol, ReaderSlot, ReaderState};
#[cfg(not(loom))]
pub use slot_ptr::{ReaderSlotPtr, SlotPtr};
