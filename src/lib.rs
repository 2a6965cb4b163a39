//! Userspace RCU for Rust: this facade re-exports the two flavours.
//!
//! * [`memb`] (`rcu-memb`): readers announce themselves with a plain store and
//!   a compiler fence; writers pay `membarrier(2)`. Any thread can read.
//! * [`qsbr`] (`rcu-qsbr`): readers pay nothing; registered threads announce
//!   quiescent states.
#![deny(missing_docs)]

pub use rcu_memb as memb;
pub use rcu_qsbr as qsbr;
