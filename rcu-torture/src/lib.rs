//! A torture test for every RCU flavour, in the spirit of the kernel's
//! rcutorture and liburcu's `tests/regression/rcutorture.h`, written once
//! over [`rcu_core::RcuFlavour`].
//!
//! # Design
//!
//! * **Elements and their side table** (`rcu_testkit::arena`): readers only
//!   ever reach elements of an arena that lives for the whole run; each
//!   carries a pipeline age and a freed mark. What goes through RCU is a
//!   token whose drop marks its element freed, and checks that the
//!   grace-period cookie taken at its retire has completed. Early reclaim
//!   therefore shows up as a reader finding its element freed, or aged past
//!   1, or as a token dropped before its cookie, without any read of freed
//!   memory.
//! * **The real writer** (`writer`): publishes a new element, ages the
//!   pipeline and retires the old element through the next path of a
//!   weighted rotation over every retire path (`paths`): `synchronize_rcu`
//!   and polling in three styles (`synchronous`), the `RcuCell` writers,
//!   `call_rcu`, `call_rcu_raw`, chained callbacks with `rcu_barrier` and
//!   `kvfree_rcu` of boxes and vectors (`deferred`), and the kvfree
//!   emergency branches through the fault-injection hook (`emergency`).
//! * **Other objects** (`ledger`): what is handed to `call_rcu` /
//!   `kvfree_rcu` without being published checks its own grace period and
//!   is counted per source.
//! * **Everyone else** (`threads`): readers nest sections and check both
//!   lanes (`check`), announce quiescent states and pause (`discipline`:
//!   offline for a nap or a `synchronize_rcu`, or unregistered for a
//!   moment); extra updaters only call `synchronize_rcu`, so grace periods
//!   overlap and are shared; churn threads keep registering, exiting
//!   (sometimes still registered, sometimes reading from a thread-local
//!   destructor) and registering again.
//! * **Sections that roam** (`roaming`), for flavours whose guards are
//!   `Send` (srcu; `run_roaming`): hand-off readers open a section, load
//!   and check the published element, and hand the guard with the
//!   element's id to a partner thread, which checks the element again on
//!   arrival and after a short pause and ends the section there; async
//!   reader tasks on a two-worker tokio runtime hold sections across
//!   `yield_now().await` and `sleep(..).await`, checking after each await,
//!   and migrate between the workers.
//! * **The flood** (`flood`): bursts of `call_rcu` and `kvfree_rcu` as fast
//!   as the engine takes them, under tightened backlog limits, while the RSS
//!   is sampled against a ceiling (`ceiling`).
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
//!
//! # Layers
//!
//! Top to bottom; a module uses only modules on lower lines.
//! `tests/module_layers.rs` checks every `crate::` path in the sources
//! against this picture (`rcu_testkit::layers`).
//!
//! ```text
//! run                                  one run: start the threads, watch them, stop, account
//! report · crash                       the verdict; the failure line of a run that dies of a signal
//! writer · threads · roaming · flood   the real writer; readers, updaters, churn; sections that roam; the callback flood
//! check                                the read-side check of both lanes, the cell lane's value
//! paths                                the table of retire paths the writer rotates through
//! synchronous · deferred · emergency   the retire mechanisms: waiting and polling; callbacks and kvfree; kvfree faults
//! path                                 what a retire path is and what the writer hands it
//! board                                the state every thread of a run shares
//! ledger · ceiling                     objects retired unpublished, counted per source; the memory ceiling
//! discipline · failures                how a thread takes part, for any flavour; failure messages
//! label                                flavour, seed and per-thread generators
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod board;
pub mod ceiling;
pub mod check;
pub mod crash;
pub mod deferred;
pub mod discipline;
pub mod emergency;
pub mod failures;
pub mod flood;
pub mod label;
pub mod ledger;
pub mod path;
pub mod paths;
pub mod report;
pub mod roaming;
pub mod run;
pub mod synchronous;
pub mod threads;
pub mod writer;

pub use report::Report;
pub use run::{run, run_roaming, Config, ConfigError, DEFAULT_RSS_HEADROOM, HANG_EXIT_STATUS};
