//! The resizable descriptor table that `examples/resize_stress` grows
//! under readers, and the stress runs that measure and verify it.
//!
//! * [`table`]: an RCU-protected array of pointers to descriptors, the way
//!   a filesystem's block-group descriptors are reached during an online
//!   resize, with four ways of retiring the array each grow replaces
//!   ([`table::Strategy`]) and a check, on every lookup, that the array was
//!   not freed early.
//! * [`stress`]: one run (readers looking descriptors up while the calling
//!   thread grows the table) on one flavour with one strategy, what it
//!   measured, and what it found wrong; [`stress::FLAVOURS`] lists the
//!   flavours, one line each.
//! * [`report`]: medians over runs, as the binary's text table or JSON.
//!
//! The binary (`cargo run --release --example resize_stress`) parses its
//! arguments, runs every configuration through [`stress`] and prints the
//! [`report`].
#![deny(missing_docs)]

pub mod report;
pub mod stress;
pub mod table;
