//! rcu-bench: this workspace's flavours measured beside crossbeam-epoch
//! and, with the `liburcu` feature, liburcu's urcu-memb and urcu-qsbr.
//!
//! The library holds what the criterion benches (`benches/`) and the
//! `rcu-bench` binary share. Modules, each depending only on those above
//! it:
//!
//! * data and helpers: [`workload`] (the node, table, intrusive node and
//!   configuration value readers reach, `repr(C)` where the liburcu shim
//!   reads them), [`hist`] (latency histogram), [`pin`], [`rss`];
//! * [`reader`]: liburcu `test_urcu`'s reader loop over a read-side
//!   section; [`loops`]: every other measured loop and its timing;
//! * [`peer`]: the peer interface, what a workload or bench asks of an
//!   implementation; [`peers`]: its implementation for this workspace's
//!   flavours (generic over `RcuFlavour`) and crossbeam-epoch; `liburcu`
//!   (feature `liburcu`): the C shim's bindings and liburcu's peers;
//! * [`implementations`]: the list of implementations under test;
//! * [`report`]: results, sections, text, CSV and chart;
//! * the workloads: [`run`] (`test_urcu`), [`suite`] (read pair and
//!   2 readers + 1 writer), [`sharing`] (concurrent `synchronize_rcu`),
//!   [`flood`] (rcuscale kfree), [`kvfree_flood`] (issue 30's counted
//!   `kvfree_rcu` flood, with per-call latency), [`par_iter`] (rayon pool lookups) and
//!   [`config`] (configuration reload, with the pool rows);
//! * [`server`]: an async HTTP server whose routing table is reloaded
//!   every 10 ms, with its load generator (`rcu-bench server`);
//! * [`compare`]: the list of workloads `rcu-bench compare` runs.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod hist;
pub use rcu_testkit::pin;
pub use rcu_testkit::rss;
pub mod workload;

pub mod loops;
pub mod reader;

#[cfg(feature = "liburcu")]
pub mod liburcu;
pub mod peer;
pub mod peers;

pub mod implementations;

pub mod report;

pub mod config;
pub mod flood;
pub mod kvfree_flood;
pub mod par_iter;
pub mod run;
pub mod server;
pub mod sharing;
pub mod suite;

pub mod compare;
