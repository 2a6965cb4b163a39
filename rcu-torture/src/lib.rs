//! A torture test for both RCU flavours, in the spirit of the kernel's
//! rcutorture and liburcu's `tests/regression/rcutorture.h`.
//!
//! # Design
//!
//! * **Elements and their side table** (`pool`): readers only ever reach
//!   elements of a pool that lives for the whole run; each carries a
//!   pipeline age and a freed mark. What goes through RCU is a token whose
//!   drop marks its element freed, and checks that the grace-period cookie
//!   taken at its retire has completed. Early reclaim therefore shows up as
//!   a reader finding its element freed, or aged past 1, or as a token
//!   dropped before its cookie, without any read of freed memory.
//! * **The real writer** (`writer`): publishes a new element, ages the
//!   pipeline and retires the old element through the next path of a
//!   weighted rotation over every retire path (`paths`): `synchronize_rcu`,
//!   polling in three styles, `RcuCell::replace`, `call_rcu`,
//!   `call_rcu_raw`, chained callbacks with `rcu_barrier` (`deferred`),
//!   `kvfree_rcu` of boxes and vectors, and the kvfree emergency branches
//!   through the fault-injection hook (`emergency`).
//! * **Other objects** (`ledger`): what is handed to `call_rcu` /
//!   `kvfree_rcu` without being published checks its own grace period and
//!   is counted per source.
//! * **Everyone else** (`threads`): readers nest sections and check both
//!   lanes; QSBR readers announce quiescent states and go offline (calling
//!   `synchronize_rcu` while offline); extra updaters only call
//!   `synchronize_rcu`, so grace periods overlap and are shared; churn
//!   threads keep registering, exiting (sometimes still registered,
//!   sometimes reading from a thread-local destructor) and re-registering.
//! * **The flood** (`flood`): bursts of `call_rcu` and `kvfree_rcu` as fast
//!   as the engine takes them, under tightened backlog limits, while the RSS
//!   is sampled against a ceiling (`rss`).
//! * **The watchdog** (`run`): if no grace period completes, the writer
//!   makes no progress, or threads do not stop, within a generous bound, it
//!   prints the flavour's `state_report()` and exits instead of hanging.
//! * **The verdict** (`report`): no element reached while freed, no early
//!   drop, every age bucket of 2 or more empty, created == dropped after
//!   the final `rcu_barrier` (per path and per source), the engine's
//!   counters agree with what the paths did, every path exercised, no
//!   reader slot left claimed.
//!
//! Every failure message names the flavour, the path and the seed.
//! Generic code reaches each flavour's public API through
//! [`TortureFlavour`].
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod board;
pub mod crash;
pub mod deferred;
pub mod emergency;
pub mod flavour;
pub mod flood;
pub mod ledger;
pub mod paths;
pub mod pool;
pub mod report;
pub use rcu_testkit::rng;
pub mod rss;
pub mod run;
pub mod seccomp;
pub mod threads;
pub mod writer;

pub use flavour::TortureFlavour;
pub use report::Report;
pub use run::{run, Config, ConfigError, DEFAULT_RSS_HEADROOM, HANG_EXIT_STATUS};
