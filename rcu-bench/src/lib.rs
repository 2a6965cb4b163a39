//! rcu-bench: rcu-memb and rcu-qsbr measured beside crossbeam-epoch and,
//! with the `liburcu` feature, liburcu's urcu-memb and urcu-qsbr.
//!
//! The library holds what the criterion benches (`benches/`) and the
//! `rcu-bench` binary share:
//!
//! * [`workload`]: the node and table readers reach, `repr(C)` so the
//!   liburcu shim reads the same bytes;
//! * [`implementation`]: the implementations under test, their read-side
//!   sections and reader loops, busy readers, grace-period waits;
//! * [`pin`]: pinning threads to CPUs;
//! * [`reclaim`]: this workspace's deferred frees (`call_rcu`,
//!   `call_rcu_raw`, `kvfree_rcu`, `rcu_barrier`) behind one trait;
//! * [`hist`]: the grace-period latency histogram; [`rss`]: peak RSS;
//! * [`config_reload`]: a configuration value read by N threads and
//!   reloaded every millisecond, per way of holding it, and the rayon
//!   pool lookup row;
//! * [`run`], [`flood`], [`compare`], [`chart`]: the `rcu-bench`
//!   subcommands.
//! * `liburcu` (feature `liburcu`): the C shim's bindings.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod chart;
pub mod compare;
pub mod config_reload;
pub mod flood;
pub mod gp_sharing;
pub mod hist;
pub mod implementation;
#[cfg(feature = "liburcu")]
pub mod liburcu;
pub use rcu_testkit::pin;
pub mod reclaim;
pub use rcu_testkit::rss;
pub mod run;
pub mod workload;
