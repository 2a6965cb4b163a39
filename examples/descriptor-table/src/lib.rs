//! The resizable descriptor table that `examples/resize_stress` grows
//! under readers: an RCU-protected array of pointers to descriptors, the
//! way a filesystem's block-group descriptors are reached during an online
//! resize, with four ways of retiring the array each grow replaces
//! ([`table::Strategy`]) and a check, on every lookup, that the array was
//! not freed early.
//!
//! [`table`] is the data structure and its unit tests; the binary
//! (`cargo run --release --example resize_stress`) runs and reports it.
#![deny(missing_docs)]

pub mod table;
