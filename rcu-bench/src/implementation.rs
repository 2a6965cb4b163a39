//! The implementations under test and how the harness drives each.
//!
//! * [`Implementation`] names them (`rcu-memb`, `rcu-qsbr`,
//!   `crossbeam-epoch`, and with the `liburcu` feature `liburcu-memb`,
//!   `liburcu-qsbr`) and says what each supports.
//! * [`ReadSide`] is a read-side critical section for the Rust
//!   implementations, so reader loops are written once and monomorphised
//!   (the section inlines). liburcu's reader loops run in the C shim instead
//!   (see `liburcu`), for the same reason.
//! * [`reader_loop`] is liburcu `test_urcu`'s reader: section, dereference,
//!   check, optional busy loop, count, and a quiescent state every 1,024
//!   reads (QSBR needs them or grace periods never end; the other flavours
//!   ignore them).
//! * [`BusyReaders`] keeps N such readers running on their own threads, for
//!   grace-period latency measurements.
//! * [`synchronize`] waits for a grace period from an unregistered thread.

use crate::pin::CpuPlan;
use crate::workload::{Node, NODE_VALUE};
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

/// An RCU (or RCU-like) implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Implementation {
    /// This workspace's `rcu-memb`.
    Memb,
    /// This workspace's `rcu-qsbr`.
    Qsbr,
    /// `crossbeam-epoch` (pin / defer_destroy / flush).
    Epoch,
    /// liburcu's urcu-memb through the shim.
    #[cfg(feature = "liburcu")]
    LiburcuMemb,
    /// liburcu's urcu-qsbr through the shim.
    #[cfg(feature = "liburcu")]
    LiburcuQsbr,
}

impl Implementation {
    /// Every implementation built into this binary, in report order.
    pub const ALL: &'static [Implementation] = &[
        Implementation::Memb,
        Implementation::Qsbr,
        Implementation::Epoch,
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuMemb,
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuQsbr,
    ];

    /// The name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Memb => "rcu-memb",
            Implementation::Qsbr => "rcu-qsbr",
            Implementation::Epoch => "crossbeam-epoch",
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => "liburcu-memb",
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => "liburcu-qsbr",
        }
    }

    /// Parses a name or a short alias (`memb`, `qsbr`, `epoch`).
    pub fn from_name(name: &str) -> Result<Self, String> {
        let found = match name {
            "memb" | "rcu-memb" => Some(Implementation::Memb),
            "qsbr" | "rcu-qsbr" => Some(Implementation::Qsbr),
            "epoch" | "crossbeam-epoch" => Some(Implementation::Epoch),
            #[cfg(feature = "liburcu")]
            "liburcu-memb" | "urcu-memb" => Some(Implementation::LiburcuMemb),
            #[cfg(feature = "liburcu")]
            "liburcu-qsbr" | "urcu-qsbr" => Some(Implementation::LiburcuQsbr),
            _ => None,
        };
        found.ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|i| i.name()).collect();
            let hint = if name.starts_with("liburcu") || name.starts_with("urcu") {
                " (liburcu implementations need the `liburcu` feature: \
                 cargo run --release -p rcu-bench --features liburcu -- ...)"
            } else {
                ""
            };
            format!("unknown implementation `{name}`; known: {}{hint}", known.join(", "))
        })
    }

    /// Whether it has a synchronous grace-period wait (`synchronize_rcu`).
    /// crossbeam-epoch has none: it only defers destruction.
    pub fn has_synchronize(self) -> bool {
        self != Implementation::Epoch
    }

    /// Whether readers must announce quiescent states.
    pub fn is_qsbr(self) -> bool {
        match self {
            Implementation::Qsbr => true,
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A read-side critical section of a Rust implementation.
pub trait ReadSide {
    /// Registers the calling thread as a reader (and online, QSBR).
    fn register() -> Self;
    /// Runs `f` inside one read-side critical section.
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R;
    /// A point where the thread holds no reference: QSBR announces a
    /// quiescent state; the others do nothing.
    #[inline]
    fn quiescent_state(&mut self) {}
}

/// `rcu-memb` reader: `read_lock()` / guard drop.
#[derive(Debug)]
pub struct MembReader(());

impl ReadSide for MembReader {
    fn register() -> Self {
        rcu_memb::register_thread();
        MembReader(())
    }
    #[inline]
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _guard = rcu_memb::read_lock();
        f()
    }
}

/// `rcu-qsbr` reader: a registered thread; sections are free.
#[derive(Debug)]
pub struct QsbrReader(pub rcu_qsbr::QsbrThread);

impl ReadSide for QsbrReader {
    fn register() -> Self {
        QsbrReader(rcu_qsbr::register_thread())
    }
    #[inline]
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.read_lock();
        f()
    }
    #[inline]
    fn quiescent_state(&mut self) {
        self.0.quiescent_state();
    }
}

/// crossbeam-epoch reader: a handle registered with the default collector
/// (its fastest documented pin: no thread-local lookup per pin), pinned
/// for each section.
#[derive(Debug)]
pub struct EpochReader(pub crossbeam_epoch::LocalHandle);

impl ReadSide for EpochReader {
    fn register() -> Self {
        EpochReader(crossbeam_epoch::default_collector().register())
    }
    #[inline]
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.pin();
        f()
    }
}

/// What a reader thread shares with the rest of a run.
#[derive(Debug)]
pub struct ReaderShared {
    /// The published node.
    pub slot: AtomicPtr<Node>,
    /// Nonzero: readers leave their loops.
    pub stop: AtomicI32,
}

impl ReaderShared {
    /// Publishes a fresh node.
    pub fn new() -> Self {
        ReaderShared { slot: AtomicPtr::new(Box::into_raw(Node::new_boxed())), stop: AtomicI32::new(0) }
    }
}

impl Default for ReaderShared {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ReaderShared {
    fn drop(&mut self) {
        // SAFETY: dropping the shared state means no reader thread holds it
        // (they hold an Arc or a scoped borrow); the node came from
        // Box::into_raw and is still published, so nothing else frees it.
        drop(unsafe { Box::from_raw(*self.slot.get_mut()) });
    }
}

/// Busy-loop `loops` iterations (`caa_cpu_relax()` in liburcu's tests).
#[inline]
pub fn spin(loops: u64) {
    for _ in 0..loops {
        std::hint::spin_loop();
    }
}

/// liburcu `test_urcu`'s reader loop for a Rust implementation, until
/// `shared.stop`. Publishes its read count after every read (a plain store
/// to its own cache line, as test_urcu's per-thread counter increment), so
/// the run can discard a warm-up period. Returns (reads, mismatches: nodes
/// seen not holding [`NODE_VALUE`]).
pub fn reader_loop<R: ReadSide>(
    reader: &mut R,
    shared: &ReaderShared,
    progress: &AtomicU64,
    read_cs_len: u64,
) -> (u64, u64) {
    let mut reads: u64 = 0;
    let mut mismatches: u64 = 0;
    loop {
        reader.section(|| {
            // Acquire pairs with the writer's AcqRel swap that published the
            // node (rcu_dereference; a plain load on x86).
            let node = shared.slot.load(Ordering::Acquire);
            // SAFETY: the node was published and is retired only through a
            // grace period (or epoch deferral) that waits for this section.
            if unsafe { (*node).value } != NODE_VALUE {
                mismatches += 1;
            }
            if read_cs_len != 0 {
                spin(read_cs_len);
            }
        });
        reads += 1;
        // Relaxed: a statistic for the sampler, no data depends on it.
        progress.store(reads, Ordering::Relaxed);
        if reads & 1023 == 0 {
            reader.quiescent_state();
        }
        // Relaxed, as test_urcu's test_duration_read(): the flag carries no
        // data; the join after it orders everything else.
        if shared.stop.load(Ordering::Relaxed) != 0 {
            break;
        }
    }
    (reads, mismatches)
}

/// Runs the reader loop of `imp` on the calling thread (registering it
/// first) until `shared.stop`. Returns (reads, mismatches).
pub fn run_reader(imp: Implementation, shared: &ReaderShared, progress: &AtomicU64, read_cs_len: u64) -> (u64, u64) {
    match imp {
        Implementation::Memb => reader_loop(&mut MembReader::register(), shared, progress, read_cs_len),
        Implementation::Qsbr => reader_loop(&mut QsbrReader::register(), shared, progress, read_cs_len),
        Implementation::Epoch => reader_loop(&mut EpochReader::register(), shared, progress, read_cs_len),
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuMemb => crate::liburcu::UrcuThread::<crate::liburcu::LibMemb>::register().reader_run(
            &shared.slot,
            &shared.stop,
            progress,
            read_cs_len,
            NODE_VALUE,
        ),
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuQsbr => crate::liburcu::UrcuThread::<crate::liburcu::LibQsbr>::register().reader_run(
            &shared.slot,
            &shared.stop,
            progress,
            read_cs_len,
            NODE_VALUE,
        ),
    }
}

/// Waits for a grace period of `imp` from a thread that is not one of its
/// registered readers. `None` for crossbeam-epoch, which has no such wait.
pub fn synchronize(imp: Implementation) -> Option<()> {
    match imp {
        Implementation::Memb => rcu_memb::synchronize_rcu(),
        Implementation::Qsbr => rcu_qsbr::synchronize_rcu(),
        Implementation::Epoch => return None,
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuMemb => {
            use crate::liburcu::Urcu;
            crate::liburcu::LibMemb::synchronize_rcu()
        }
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuQsbr => {
            use crate::liburcu::Urcu;
            crate::liburcu::LibQsbr::synchronize_rcu()
        }
    }
    Some(())
}

/// N reader threads of one implementation running [`reader_loop`] until
/// dropped: the "busy readers" of grace-period latency benchmarks.
#[derive(Debug)]
pub struct BusyReaders {
    shared: Arc<ReaderShared>,
    progress: Arc<Vec<CachePadded<AtomicU64>>>,
    threads: Vec<std::thread::JoinHandle<(u64, u64)>>,
}

impl BusyReaders {
    /// Starts `n` readers of `imp`, reader k pinned as thread `first_thread + k`
    /// of `plan`, and returns once each has completed its first 1,024 reads
    /// (so each is registered and in its loop).
    pub fn start(imp: Implementation, n: usize, plan: &CpuPlan, first_thread: usize) -> Self {
        let shared = Arc::new(ReaderShared::new());
        let progress: Arc<Vec<CachePadded<AtomicU64>>> =
            Arc::new((0..n).map(|_| CachePadded::new(AtomicU64::new(0))).collect());
        let threads = (0..n)
            .map(|k| {
                let (shared, progress, plan) = (shared.clone(), progress.clone(), plan.clone());
                std::thread::Builder::new()
                    .name(format!("busy-reader-{k}"))
                    .spawn(move || {
                        plan.pin(first_thread + k);
                        run_reader(imp, &shared, &progress[k], 0)
                    })
                    .expect("spawn a busy reader thread")
            })
            .collect();
        let readers = BusyReaders { shared, progress, threads };
        for p in readers.progress.iter() {
            // Relaxed: waiting for a statistic to move; no data is read.
            while p.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
        }
        readers
    }

    /// Stops and joins the readers; returns total (reads, mismatches).
    pub fn stop(mut self) -> (u64, u64) {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> (u64, u64) {
        // Relaxed: see `reader_loop`; the joins order the rest.
        self.shared.stop.store(1, Ordering::Relaxed);
        self.threads
            .drain(..)
            .map(|t| t.join().expect("busy reader panicked"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

impl Drop for BusyReaders {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_and_join();
        }
    }
}
