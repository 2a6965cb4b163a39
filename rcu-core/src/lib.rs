//! The grace-period engine shared by the `rcu-memb`, `rcu-qsbr` and `rcu-srcu` flavours.
//!
//! Users depend on the facade crate `rcu` (which re-exports the flavours
//! and, as `rcu::RcuCell` and `rcu::RcuFlavour`, the generic items of this
//! crate); this crate holds everything that does not depend on how a
//! reader announces itself, for the flavour crates to build on.
//!
//! # Layers
//!
//! Top to bottom; a module uses only modules on lower lines (files inside
//! one directory use each other, and each directory's `mod.rs` lists its
//! files). `tests/module_layers.rs` reads this picture and checks every
//! `crate::` path in the sources against it.
//!
//! ```text
//! rcu_option             RcuOption: an RcuCell that may be empty
//! interface              RcuFlavour: the public trait generic code uses
//! api · cell             the functions both flavour crates export; RcuCell, Retired
//! own_section            a read-side section the engine opens by itself (Debug)
//! fork                   the fork() handlers, registered per flavour
//! flavour                the Flavour trait (it names the engine), define_flavour!
//! engine/                owns every part below and hands each its narrow handles
//! reclaim/               the reclaim thread: pending list, backlog, rcu_barrier
//! kvfree/ · thread       headless kvfree_rcu; FlavourLocals and ThreadState
//! defer/ · stats         deferral slots, callbacks, queue, blocks, doorbell; counters
//! gp/                    one grace period, the sequence (polling, sharing, async waiters), foreign readers
//! srcu/                  sleepable readers: per-thread two-rank counters, their check, their grace period
//! reader/                reader slots and protocols, their registry, waiting
//! sys/ · stall · fault  membarrier, futex, fork-safe lock; stall warnings; fault injection
//! sync                   atomics from std, or from loom under cfg(loom)
//! ```
//!
//! Each directory's `mod.rs` and each file opens with what it owns and its
//! invariants; start from the layer you need.
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
mod interface;
#[cfg(not(loom))]
pub mod kvfree;
#[cfg(not(loom))]
mod own_section;
#[cfg(not(loom))]
mod rcu_option;
pub mod reader;
#[cfg(not(loom))]
mod reclaim;
pub mod srcu;
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
#[cfg(not(loom))]
pub use gp::foreign::{ForeignGp, ForeignReader, ForeignReaders, ForeignStyle};
pub use gp::grace_period;
pub use gp::sequence::{GpSequence, GpState};
#[cfg(not(loom))]
pub use interface::RcuFlavour;
#[cfg(not(loom))]
pub use kvfree::{DeferSlot, RcuFree};
#[cfg(not(loom))]
pub use rcu_option::RcuOption;
pub use reader::{Protocol, ReaderSlot, ReaderState};
#[cfg(not(loom))]
pub use reader::{ReaderSlotPtr, SlotPtr};
#[cfg(not(loom))]
pub use reclaim::{CallbackLimits, ReclaimPacing};
#[cfg(not(loom))]
pub use srcu::{SrcuReaders, SrcuSection};
pub use stall::{set_stall_timeout, stall_timeout, DEFAULT_STALL_TIMEOUT, STALL_TIMEOUT_ENV};
#[cfg(not(loom))]
pub use stats::{BlocksSealed, Stats};
pub use sys::BarrierStrategy;
#[cfg(not(loom))]
pub use thread::{AtExit, FlavourLocals, ThreadState};
#[cfg(not(loom))]
#[doc(hidden)]
pub use {flavour::on_thread_exit, fork::register_fork_handlers};
