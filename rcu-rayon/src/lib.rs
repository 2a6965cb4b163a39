//! rayon thread pools whose workers read RCU-protected data, for either
//! flavour, with one line of set-up.
//!
//! Most users depend on the facade crate `rcu` with feature `rayon`, which
//! re-exports this crate as `rcu::rayon`.
//!
//! * **memb**: any thread may read, so rayon's own pools already work; a
//!   pool from [`memb::pool_builder`] registers each worker when it starts
//!   (so the first read takes no slow path) and unregisters it when it
//!   exits. Read with [`memb::read`] or `rcu_memb::read_lock()`.
//! * **QSBR**: a pool from [`qsbr::pool_builder`] registers each worker when
//!   it starts and unregisters it when it exits. A worker is **offline
//!   except inside [`qsbr::read`]**, so an idle (parked) worker never holds
//!   a grace period up. rayon has no hook around a worker's sleep (only
//!   start and exit), so "offline while idle" could not be built; online
//!   only inside a read scope costs two fences per outermost scope (coming
//!   online, going offline) and needs no quiescent-state calls at all.
//!
//! ```
//! use rayon::prelude::*;
//!
//! let table = rcu_qsbr::RcuCell::new((0..1000u64).collect::<Vec<_>>());
//! let pool = rcu_rayon::qsbr::pool_builder().num_threads(2).build().unwrap();
//! let sum: u64 = pool.install(|| {
//!     (0..1000usize).into_par_iter().map(|i| rcu_rayon::qsbr::read(|guard| table.load(guard)[i])).sum()
//! });
//! assert_eq!(sum, 499_500);
//! rcu_qsbr::synchronize_rcu(); // every worker is offline between jobs
//! ```
//!
//! A guard cannot escape the read scope:
//!
//! ```compile_fail
//! let cell = rcu_qsbr::RcuCell::new(5u64);
//! let pool = rcu_rayon::qsbr::pool_builder().build().unwrap();
//! // error: the reference borrows the guard, which lives only inside `read`
//! let leaked: &u64 = pool.install(|| rcu_rayon::qsbr::read(|guard| cell.load(guard)));
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod memb;
pub mod qsbr;
