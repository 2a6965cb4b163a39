//! Userspace RCU (read-copy-update) for Rust, in the tradition of liburcu
//! and the Linux kernel: read-mostly data whose readers cost about as much
//! as a plain load, and writers that replace a value and free the old one
//! after a *grace period* (once every reader that could still see it has
//! finished), without locks on the read side.
//!
//! This crate is the one to depend on. It re-exports three flavours, which
//! differ only in what a reader is, and integrations for rayon and tokio:
//!
//! ```toml
//! [dependencies]
//! rcu = "0.1"                                          # memb, qsbr and srcu
//! # rcu = { version = "0.1", features = ["tokio"] }    # + rcu::tokio
//! ```
//!
//! A configuration read by any thread and replaced by a writer that never
//! waits:
//!
//! ```
//! use rcu::memb::{read_lock, RcuCell};
//!
//! let config = RcuCell::new(String::from("v1"));
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         let guard = read_lock(); // a read-side section: no lock, no fence
//!         assert!(config.load(&guard).starts_with('v'));
//!     });
//!     config.replace(String::from("v2")); // "v1" is freed after a grace period
//! });
//! rcu::memb::rcu_barrier(); // waits until "v1" has been dropped
//! assert_eq!(config.load(&read_lock()), "v2");
//! ```
//!
#![doc = include_str!("../docs/which_flavour.md")]
//!
//! The modules: [`memb`], [`qsbr`], [`srcu`], and for pools `rcu::rayon` and
//! `rcu::tokio` (features of the same names).
//!
//! Every flavour offers the same API: an [`RcuCell`] (`load` under a guard;
//! `replace`, `update`, `swap`, `compare_exchange`, `store` for writers),
//! `synchronize_rcu`, `call_rcu`, a headless `kvfree_rcu` (free a `Box` or
//! `Vec` after a grace period, with no `rcu_head` inside it), `rcu_barrier`,
//! polled grace periods, and `synchronize_rcu_async` / `rcu_barrier_async`
//! for async code. What each flavour's reads and grace periods cost is in
//! each module's page; measured figures are in the repository's
//! BENCHMARKS.md.
//!
//! Code generic over the flavour uses [`RcuFlavour`], the interface every
//! flavour implements, and [`RcuCell<T, F>`](RcuCell):
//!
//! ```
//! use rcu::{RcuCell, RcuFlavour};
//!
//! fn read_twice<F: RcuFlavour>(cell: &RcuCell<u64, F>) -> u64 {
//!     let me = F::register_thread();
//!     let guard = F::read_lock(&me);
//!     cell.load(&guard) * 2
//! }
//! assert_eq!(read_twice(&rcu::memb::RcuCell::new(21)), 42);
//! assert_eq!(read_twice(&rcu::qsbr::RcuCell::new(21)), 42);
//! ```
//!
//! # Features
//!
//! | feature | default | gives |
//! | --- | --- | --- |
//! | `memb` | yes | [`memb`], the membarrier flavour |
//! | `qsbr` | yes | [`qsbr`], the quiescent-state flavour |
//! | `srcu` | yes | [`srcu`], the sleepable flavour |
//! | `rayon` | no | `rcu::rayon`: rayon pools of memb or QSBR readers (enables `memb`, `qsbr`) |
//! | `tokio` | no | `rcu::tokio`: tokio runtimes of memb or QSBR readers (enables `memb`, `qsbr`) |
//!
//! Every flavour is on by default because a flavour costs only compile
//! time: no thread is started, no thread registered and no memory taken
//! until a program first uses it. `default-features = false` with the ones
//! you use trims the build.
//!
//! C programs that link liburcu use the C-ABI crate `rcu-capi` instead (a
//! drop-in `liburcu*.so`); it is not part of this crate.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use rcu_core::{RcuCell, RcuFlavour, RcuOption, ReadSection, Retired};

/// The membarrier flavour: any thread reads, with no registration and no
/// fence in a read-side section; a grace period costs two `membarrier`
/// system calls. The general-purpose choice.
///
/// ```
/// use rcu::memb::{read_lock, RcuCell};
///
/// let routes = RcuCell::new(vec!["10.0.0.0/8"]);
/// {
///     let guard = read_lock(); // nestable, !Send
///     assert_eq!(routes.load(&guard)[0], "10.0.0.0/8");
/// }
/// routes.replace(vec!["192.168.0.0/16"]); // the old value: freed after a grace period
/// rcu::memb::kvfree_rcu(Box::new([0u8; 64])); // any Box or Vec, no rcu_head needed
/// rcu::memb::rcu_barrier(); // everything retired so far is freed
/// ```
#[cfg(feature = "memb")]
#[cfg_attr(docsrs, doc(cfg(feature = "memb")))]
pub mod memb {
    #[doc(inline)]
    pub use rcu_memb::*;
}

/// The quiescent-state flavour: a read-side section costs nothing; each
/// registered thread announces quiescent states (once per loop turn), and a
/// grace period waits for every online thread to pass one. For event loops.
///
/// ```
/// use rcu::qsbr::{register_thread, RcuCell};
///
/// let table = RcuCell::new(vec![1, 2, 3]);
/// let mut me = register_thread(); // one QsbrThread per thread
/// for _ in 0..1024 {
///     let guard = me.read_lock(); // free
///     let _len = table.load(&guard).len();
///     drop(guard);
///     me.quiescent_state(); // `&mut self`: no guard can be alive
/// }
/// me.offline_scope(|| std::thread::sleep(std::time::Duration::from_millis(1)));
/// me.synchronize_rcu(); // waits offline, not for itself
/// ```
#[cfg(feature = "qsbr")]
#[cfg_attr(docsrs, doc(cfg(feature = "qsbr")))]
pub mod qsbr {
    #[doc(inline)]
    pub use rcu_qsbr::*;
}

/// The sleepable flavour (the kernel's SRCU): a guard is `Send + Sync +
/// 'static`, so a section may sleep, cross an `.await` and end on another
/// thread; independent [`Domain`](srcu::Domain)s never delay each other.
/// For async servers.
///
/// ```
/// use rcu::srcu::{read_lock, RcuCell};
///
/// let config = RcuCell::new(String::from("v1"));
/// let guard = read_lock();
/// std::thread::spawn(move || drop(guard)).join().unwrap(); // ends on another thread
/// config.replace(String::from("v2"));
/// rcu::srcu::synchronize_rcu();
/// assert_eq!(config.load(&read_lock()), "v2");
/// ```
#[cfg(feature = "srcu")]
#[cfg_attr(docsrs, doc(cfg(feature = "srcu")))]
pub mod srcu {
    #[doc(inline)]
    pub use rcu_srcu::*;
}

/// rayon pools whose workers read under memb or QSBR, with one line of
/// set-up (`rcu::rayon::qsbr::pool_builder()`).
///
/// ```
/// use rayon::prelude::*;
///
/// let table = rcu::qsbr::RcuCell::new((0..1000u64).collect::<Vec<_>>());
/// let pool = rcu::rayon::qsbr::pool_builder().num_threads(2).build().unwrap();
/// let sum: u64 = pool.install(|| {
///     (0..1000usize).into_par_iter().map(|i| rcu::rayon::qsbr::read(|guard| table.load(guard)[i])).sum()
/// });
/// assert_eq!(sum, 499_500);
/// ```
#[cfg(feature = "rayon")]
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub mod rayon {
    #[doc(inline)]
    pub use rcu_rayon::*;
}

/// tokio runtimes whose workers read under memb or QSBR, with one line of
/// set-up (`rcu::tokio::qsbr::runtime_builder_multi_thread()`). Tasks that
/// hold a read across `.await` use [`srcu`] instead.
///
/// ```
/// let config = std::sync::Arc::new(rcu::qsbr::RcuCell::new(7u32));
/// let runtime = rcu::tokio::qsbr::runtime_builder_multi_thread().worker_threads(2).build().unwrap();
/// let c = config.clone();
/// let read = runtime.block_on(async move {
///     tokio::spawn(async move { rcu::tokio::qsbr::read(|guard| *c.load(guard)) }).await.unwrap()
/// });
/// assert_eq!(read, 7);
/// ```
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio {
    #[doc(inline)]
    pub use rcu_tokio::*;
}

/// README.md's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    /// This crate's front page includes `docs/which_flavour.md`; README
    /// carries the same section verbatim, so they cannot drift apart.
    #[test]
    fn readme_carries_the_which_flavour_section_verbatim() {
        let readme = include_str!("../README.md");
        let section = include_str!("../docs/which_flavour.md");
        assert!(readme.contains(section), "README.md must contain docs/which_flavour.md verbatim; copy it over");
    }
}
