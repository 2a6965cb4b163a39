//! tokio runtimes whose tasks read RCU-protected data, for either flavour,
//! with one line of set-up: build the runtime from this crate's builder
//! instead of `tokio::runtime::Builder::new_*`, and read through `read`.
//!
//! Most users depend on the facade crate `rcu` with feature `tokio`, which
//! re-exports this crate as `rcu::tokio`.
//!
//! * **memb**: any thread may read; a runtime from
//!   [`memb::runtime_builder_multi_thread`] or
//!   [`memb::runtime_builder_current_thread`] registers each thread tokio
//!   starts (workers and blocking-pool threads) and unregisters it when it
//!   stops. Read with [`memb::read`] or `rcu_memb::read_lock()`.
//! * **QSBR**: a runtime from [`qsbr::runtime_builder_multi_thread`] or
//!   [`qsbr::runtime_builder_current_thread`] registers each thread tokio
//!   starts for its whole life, **offline except inside [`qsbr::read`]**.
//!   Read with [`qsbr::read`]; no quiescent-state calls are needed.
//!
//! ## QSBR: when is a worker online?
//!
//! tokio has hooks around a worker's start, stop, park and unpark, but none
//! between two tasks. A QSBR reader must announce quiescent states while
//! online, and a grace period waits for every online thread, so the choice
//! is where the worker is online:
//!
//! * **online only inside `read`** (the default builders): the outermost
//!   scope comes online (a fence) and goes offline (two fences). An idle
//!   worker, a worker between tasks and a task that blocks or computes
//!   without reading are all offline: no grace period ever waits for
//!   anything but open read scopes, and a task may call
//!   `rcu_qsbr::synchronize_rcu()` (it blocks the worker, as any blocking
//!   call does).
//! * **online until park**
//!   ([`qsbr::runtime_builder_multi_thread_online_until_park`]): a worker
//!   comes online at its first read and stays online until the park hook
//!   takes it offline; each outermost scope announces a quiescent state at
//!   its start and end (a load and a compare each when no grace period
//!   waits). Where else could the quiescent state go? Between tasks there
//!   is no hook, but none is needed: a guard is `!Send` and lives only
//!   inside `read`, and what is loaded under it borrows it, so no reference
//!   from a read scope survives into task state or across an `.await`; the
//!   start and end of every outermost scope are quiescent points. The cost
//!   is liveness: a grace period that begins between scopes waits until
//!   the worker reads again or parks, so a task that computes or blocks
//!   for long (including `block_in_place`) holds every grace period up.
//!
//! The `tokio_read` benchmark in rcu-bench (`cargo bench -p rcu-bench
//! --bench tokio_read`) compares the two on a multi-thread runtime: one
//! scope in a loop, spawned tasks that each read, and `synchronize_rcu()`
//! from a thread outside the runtime while the workers are parked or busy.
//! Online until park saves the fences of each scope, which shows in a loop
//! of scopes but is lost in the cost of spawning and running a task; with
//! busy workers its grace periods wait for each worker's next scope
//! boundary, where online only inside `read` waits for nothing but open
//! scopes. So online only inside `read` is the default: it is never the
//! reason a grace period waits. Online until park is for runtimes whose
//! tasks read in tight, fine-grained scopes and never block or compute
//! long between reads; under the default, one `read` around a batch of
//! loads pays the fences once.
//!
//! Threads tokio does not start (the thread in `block_on`, where a
//! current-thread runtime runs its tasks) are registered by their first
//! [`qsbr::read`], online only inside it, until they exit.
//!
//! ## A server in brief
//!
//! Request tasks read a configuration that an admin task replaces; old
//! configurations are freed after a grace period, which never waits for an
//! idle worker:
//!
//! ```
//! use std::sync::Arc;
//!
//! struct Config {
//!     limit: u64,
//! }
//!
//! let config = Arc::new(rcu_qsbr::RcuCell::new(Config { limit: 10 }));
//! let runtime = rcu_tokio::qsbr::runtime_builder_multi_thread().worker_threads(2).enable_time().build().unwrap();
//! let accepted: u64 = runtime.block_on(async {
//!     // The admin task: reloads the configuration now and then.
//!     let admin = tokio::spawn({
//!         let config = config.clone();
//!         async move {
//!             for limit in 11..=20 {
//!                 config.replace(Config { limit }); // never waits for readers
//!                 tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//!             }
//!         }
//!     });
//!     // Request tasks: each reads the configuration in force.
//!     let requests: Vec<_> = (0..100u64)
//!         .map(|request| {
//!             let config = config.clone();
//!             tokio::spawn(async move {
//!                 let limit = rcu_tokio::qsbr::read(|guard| config.load(guard).limit); // a copy leaves the scope
//!                 tokio::task::yield_now().await; // no guard is held here
//!                 u64::from(request % 30 < limit)
//!             })
//!         })
//!         .collect();
//!     let mut accepted = 0;
//!     for request in requests {
//!         accepted += request.await.unwrap();
//!     }
//!     admin.await.unwrap();
//!     accepted
//! });
//! assert!((40..=50).contains(&accepted)); // 40 under limit 10, 50 under limit 20
//! rcu_qsbr::rcu_barrier(); // every replaced Config has been freed
//! drop(runtime); // every worker unregisters as it stops
//! ```
//!
//! ## Guards do not cross `.await`
//!
//! A task spawned on a multi-thread runtime may resume on another worker
//! after an `.await`, so `tokio::spawn` requires a `Send` future, and a
//! read-side guard is `!Send`: holding one across an `.await` does not
//! compile. A memb guard:
//!
//! ```compile_fail
//! let cell = std::sync::Arc::new(rcu_memb::RcuCell::new(1u64));
//! let runtime = rcu_tokio::memb::runtime_builder_multi_thread().build().unwrap();
//! runtime.block_on(async move {
//!     tokio::spawn(async move {
//!         let guard = rcu_memb::read_lock();
//!         let value = cell.load(&guard);
//!         tokio::task::yield_now().await; // error: `ReadGuard` cannot be sent between threads
//!         println!("{value}");
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```
//!
//! A QSBR guard (it borrows the thread's `!Sync` registration):
//!
//! ```compile_fail
//! let cell = std::sync::Arc::new(rcu_qsbr::RcuCell::new(1u64));
//! let runtime = rcu_tokio::qsbr::runtime_builder_multi_thread().build().unwrap();
//! runtime.block_on(async move {
//!     tokio::spawn(async move {
//!         let thread = rcu_qsbr::register_thread();
//!         let guard = thread.read_lock();
//!         let value = cell.load(&guard);
//!         tokio::task::yield_now().await; // error: the guard is not `Send`
//!         println!("{value}");
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```
//!
//! Nor can a guard or a reference loaded under it leave a `read` scope,
//! e.g. inside a future the scope returns:
//!
//! ```compile_fail
//! let cell = std::sync::Arc::new(rcu_qsbr::RcuCell::new(1u64));
//! let runtime = rcu_tokio::qsbr::runtime_builder_multi_thread().build().unwrap();
//! runtime.block_on(async move {
//!     tokio::spawn(async move {
//!         // error: the reference borrows the guard, which lives only inside `read`
//!         let later = rcu_tokio::qsbr::read(|guard| {
//!             let value = cell.load(guard);
//!             async move { *value }
//!         });
//!         later.await
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```
//!
//! Read in a scope, copy (or clone) what the task needs out of it, then
//! `.await`, as the server above does.
//!
//! The sleepable flavour (`rcu_srcu`) is the one whose guard may cross an
//! `.await`: it is `Send`, counts on per-thread counters that any thread
//! may close, and needs no registration, so any tokio runtime serves it as
//! it is (no builder here). A task holds the guard while it awaits, and
//! may resume on another worker:
//!
//! ```
//! let cell = std::sync::Arc::new(rcu_srcu::RcuCell::new(1u64));
//! let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
//! let read = runtime.block_on(async move {
//!     tokio::spawn(async move {
//!         let guard = rcu_srcu::read_lock();
//!         let value = cell.load(&guard);
//!         tokio::task::yield_now().await; // the guard crosses the `.await`
//!         *value
//!     })
//!     .await
//!     .unwrap()
//! });
//! assert_eq!(read, 1);
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod memb;
pub mod qsbr;
