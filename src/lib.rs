#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

/// The membarrier flavour (see [`rcu_memb`]).
pub use rcu_memb as memb;
/// The QSBR flavour (see [`rcu_qsbr`]).
pub use rcu_qsbr as qsbr;
