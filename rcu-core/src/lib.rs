//! The grace-period engine shared by the `rcu-memb` and `rcu-qsbr` flavours.
//!
//! Users depend on a flavour crate; this crate holds everything that does
//! not depend on how a reader announces itself. Every module, one line each:
//!
//! * `sync`: atomics from `std`, or from `loom` under `cfg(loom)`;
//! * `sys`: membarrier and the barrier strategy; `sys::futex`, the futex
//!   calls; `sys::lock`, locks the `fork()` handlers can release (on futexes);
//! * `reader`: reader slots and the two counter protocols;
//! * `registry`: the per-flavour set of reader slots;
//! * `thread`: per-thread registration and its thread-exit destructor;
//! * `wait`: waiting for a reader (spin, then futex);
//! * `stall`: stall warnings for a reader that holds a grace period up;
//! * `grace_period`: one grace period, with its barrier pairing;
//! * `sequence`: cookies, polling and grace-period sharing;
//! * `callback`: callback heads and the recycled closure-slot pool;
//! * `local_callbacks`: a thread's own callback list, handed on in batches;
//! * `queue`: the shared wait-free callback queue;
//! * `reclaim`: the reclaim thread, its pending list, backlog and `rcu_barrier`;
//! * `block`, `kvfree`, `fault`: headless `kvfree_rcu` with per-thread bulk
//!   blocks, its emergency path and the fault-injection hook;
//! * `fork`: the `fork()` handlers;
//! * `stats`: the engine's counters and the snapshot users read;
//! * `engine`: the above tied together for one [`Flavour`];
//! * `flavour`: the [`Flavour`] trait, the counterpart of liburcu's `urcu-flavor.h`;
//! * `api`: the public functions both flavour crates export, written once;
//! * `own_section`: a read-side section the engine opens by itself (for `Debug`);
//! * `cell`: [`RcuCell`] and [`Retired`], a value unpublished but not yet freed;
//! * `rcu_option`: [`RcuOption`], an RCU cell that may be empty.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(loom))]
mod api;
#[cfg(not(loom))]
mod cell;
#[cfg(not(loom))]
mod defer;
#[cfg(not(loom))]
mod engine;
#[cfg(not(loom))]
pub mod fault;
#[cfg(not(loom))]
mod flavour;
#[cfg(not(loom))]
mod fork;
mod gp;
#[cfg(not(loom))]
pub mod kvfree;
#[cfg(not(loom))]
mod own_section;
#[cfg(not(loom))]
mod rcu_option;
pub mod reader;
#[cfg(not(loom))]
mod reclaim;
pub mod stall;
#[cfg(not(loom))]
mod stats;
mod sync;
pub mod sys;
#[cfg(not(loom))]
mod thread;

#[cfg(not(loom))]
pub use cell::{RcuCell, Retired};
#[cfg(not(loom))]
pub use defer::callback::{CallbackFn, RcuHead};
#[cfg(not(loom))]
pub use engine::Engine;
#[cfg(not(loom))]
pub use flavour::{Flavour, ReadSection};
pub use gp::grace_period;
#[cfg(not(loom))]
pub use gp::sequence::GpState;
#[cfg(not(loom))]
pub use kvfree::{DeferSlot, RcuFree};
#[cfg(not(loom))]
pub use rcu_option::RcuOption;
pub use reader::{Protocol, ReaderSlot, ReaderState};
#[cfg(not(loom))]
pub use reader::{ReaderSlotPtr, SlotPtr};
#[cfg(not(loom))]
pub use reclaim::CallbackLimits;
pub use stall::{set_stall_timeout, stall_timeout, DEFAULT_STALL_TIMEOUT, STALL_TIMEOUT_ENV};
#[cfg(not(loom))]
pub use stats::{BlocksSealed, Stats};
pub use sys::BarrierStrategy;
#[cfg(not(loom))]
pub use thread::{AtExit, FlavourLocals, ThreadState};
#[cfg(not(loom))]
#[doc(hidden)]
pub use {flavour::on_thread_exit, fork::register_fork_handlers};
