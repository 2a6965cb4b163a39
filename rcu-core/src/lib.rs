//! The grace-period engine shared by the `rcu-memb` and `rcu-qsbr` flavours.
//!
//! Users depend on a flavour crate; this crate holds everything that does
//! not depend on how a reader announces itself:
//!
//! * `sys`: membarrier and futex system calls, and the barrier strategy;
//! * `reader`: reader slots and the two counter protocols;
//! * `registry`: the per-flavour set of reader slots;
//! * `wait`: waiting for a reader (spin, then futex);
//! * `grace_period`: one grace period, with its barrier pairing;
//! * `sequence`: cookies, polling and grace-period sharing;
//! * `callback`, `queue`, `reclaim`: `call_rcu`, `rcu_barrier` and the
//!   reclaim thread;
//! * `block`, `kvfree`, `fault`: headless `kvfree_rcu` with per-thread bulk
//!   blocks, its emergency path and the fault-injection hook;
//! * `lock`, `fork`: locks the `fork()` handlers can release, and the handlers;
//! * `engine`: the above tied together for one [`Flavour`];
//! * `cell`: [`RcuCell`].
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(loom))]
mod api;
#[cfg(not(loom))]
mod block;
#[cfg(not(loom))]
mod callback;
#[cfg(not(loom))]
mod cell;
#[cfg(not(loom))]
mod engine;
#[cfg(not(loom))]
pub mod fault;
#[cfg(not(loom))]
mod flavour;
#[cfg(not(loom))]
mod fork;
pub mod grace_period;
#[cfg(not(loom))]
pub mod kvfree;
#[cfg(not(loom))]
mod local_callbacks;
#[cfg(not(loom))]
mod lock;
#[cfg(not(loom))]
mod queue;
pub mod reader;
#[cfg(not(loom))]
mod reclaim;
#[cfg(not(loom))]
mod registry;
#[cfg(not(loom))]
mod sequence;
#[cfg(not(loom))]
mod stats;
mod sync;
pub mod sys;
#[cfg(not(loom))]
mod thread;
pub mod wait;

#[cfg(not(loom))]
pub use callback::{CallbackFn, RcuHead};
#[cfg(not(loom))]
pub use cell::RcuCell;
#[cfg(not(loom))]
pub use engine::Engine;
#[cfg(not(loom))]
pub use flavour::{Flavour, ReadSection};
#[cfg(not(loom))]
pub use kvfree::{KvfreeSlot, RcuFree};
pub use reader::{Protocol, ReaderSlot, ReaderState};
#[cfg(not(loom))]
pub use reclaim::CallbackLimits;
#[cfg(not(loom))]
pub use sequence::GpState;
#[cfg(not(loom))]
pub use stats::{BlocksSealed, Stats};
pub use sys::BarrierStrategy;
#[cfg(not(loom))]
pub use thread::{ReaderSlotPtr, SlotPtr, ThreadState};
