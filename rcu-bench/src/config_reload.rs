//! `rcu-bench config`: the bench a server author asks for first. A
//! configuration value is read by N threads while one thread reloads it
//! every millisecond, for each way a Rust server holds such a value:
//!
//! * `rcu-memb-cell`, `rcu-qsbr-cell`: this workspace's `RcuCell`; a read
//!   is a section, `load`, two fields. The reloader calls `replace` (the
//!   old value goes to `kvfree_rcu`, never waiting), and every other reload
//!   `swap` + `into_inner_after_grace_period` instead, whose latency is the
//!   store plus a whole grace period (the `reload_gp` figure).
//! * `arc-swap-load`, `arc-swap-load_full`: `ArcSwap<Config>`, read through
//!   `load()` (a debt-slot guard) or `load_full()` (an `Arc` clone);
//!   reloaded with `store`.
//! * `crossbeam-epoch`: an `Atomic<Config>` loaded under `pin()`, reloaded
//!   with `swap` + `defer_destroy`.
//! * `rwlock-arc`: `RwLock<Arc<Config>>`, read by cloning the `Arc` under
//!   the read lock, reloaded by replacing it under the write lock.
//!
//! A read reaches the value and loads one of its fields (see
//! [`Config::read_ok`]). Readers announce a QSBR quiescent state every
//! 1,024 reads, as test_urcu's readers do (the other kinds have nothing to
//! announce). Every read checks the field it loaded (a dropped `Config` is
//! poisoned), so a value freed too early is counted, not just fast. Figures: reads per second per
//! reader over the measured window (after a warm-up), and the reloader's
//! latency per reload (median and p99 of the store call, excluding building
//! the new value).
//!
//! [`run_par_iter`] is the pool row: a rayon pool looks keys up in a table
//! behind a cell (one read scope per chunk of keys) while a writer replaces
//! the table every millisecond.

use crate::hist::Histogram;
use crate::pin::CpuPlan;
use crate::workload::Table;
use crossbeam_utils::CachePadded;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Limits per configuration value (a power of two: picking one is a mask).
const LIMITS: usize = 8;
/// Reads between two looks at the stop flag (and QSBR quiescent states).
const CHUNK: u64 = 1024;

/// The configuration value: a generation, a few limits and a name (so
/// building and dropping one allocates, as a real configuration does).
#[derive(Debug)]
pub struct Config {
    generation: u64,
    /// `generation + k + 1`: never 0 while the value lives; `Drop` zeroes
    /// them.
    limits: [u64; LIMITS],
    name: String,
}

impl Config {
    /// Generation `generation`, every field derived from it.
    pub fn new(generation: u64) -> Self {
        let limits = std::array::from_fn(|k| generation + k as u64 + 1);
        Config { generation, limits, name: format!("config-{generation}") }
    }

    /// What a request reads: one limit (the `i`-th, modulo the count).
    /// False once the value was dropped. One load: a request reads a field
    /// or two of its configuration, so the read is mostly the cost of
    /// reaching the value, which is what this bench compares.
    #[inline]
    pub fn read_ok(&self, i: u64) -> bool {
        self.limits[(i as usize) & (LIMITS - 1)] != 0
    }

    /// The generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // Poison, so a reader that still reaches the value counts a
        // mismatch. Volatile: stores right before deallocation are
        // otherwise dead stores.
        for limit in &mut self.limits {
            // SAFETY: `limit` is a valid, aligned, exclusively borrowed u64.
            unsafe { std::ptr::write_volatile(limit, 0) };
        }
    }
}

/// How a server holds the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    /// `rcu_memb::RcuCell`.
    MembCell,
    /// `rcu_qsbr::RcuCell`.
    QsbrCell,
    /// `arc_swap::ArcSwap::load`.
    ArcSwapLoad,
    /// `arc_swap::ArcSwap::load_full`.
    ArcSwapLoadFull,
    /// `crossbeam_epoch::Atomic` under `pin`.
    Epoch,
    /// `RwLock<Arc<Config>>`, `Arc` cloned under the read lock.
    RwLockArc,
}

impl ConfigKind {
    /// Every kind, in report order.
    pub const ALL: [ConfigKind; 6] = [
        ConfigKind::MembCell,
        ConfigKind::QsbrCell,
        ConfigKind::ArcSwapLoad,
        ConfigKind::ArcSwapLoadFull,
        ConfigKind::Epoch,
        ConfigKind::RwLockArc,
    ];

    /// Name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::MembCell => "rcu-memb-cell",
            ConfigKind::QsbrCell => "rcu-qsbr-cell",
            ConfigKind::ArcSwapLoad => "arc-swap-load",
            ConfigKind::ArcSwapLoadFull => "arc-swap-load_full",
            ConfigKind::Epoch => "crossbeam-epoch",
            ConfigKind::RwLockArc => "rwlock-arc",
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            format!("unknown config kind `{name}`; known: {}", known.join(", "))
        })
    }
}

/// One run's sizes.
#[derive(Clone, Debug)]
pub struct ConfigRunConfig {
    /// Reader threads.
    pub readers: usize,
    /// Measured window.
    pub duration: Duration,
    /// Not measured, before the window.
    pub warmup: Duration,
    /// Time between two reloads.
    pub reload_period: Duration,
    /// Pin threads to CPUs (readers first, then the reloader).
    pub pin: bool,
}

impl ConfigRunConfig {
    /// The full suite's sizes: 2 readers, 3 s windows, reload every 1 ms.
    pub fn full(pin: bool) -> Self {
        ConfigRunConfig {
            readers: 2,
            duration: Duration::from_secs(3),
            warmup: Duration::from_millis(300),
            reload_period: Duration::from_millis(1),
            pin,
        }
    }

    /// A few hundred milliseconds per kind (noisy; for CI and trying out).
    pub fn quick(pin: bool) -> Self {
        ConfigRunConfig { duration: Duration::from_millis(200), warmup: Duration::from_millis(50), ..Self::full(pin) }
    }
}

/// What one run measured.
#[derive(Debug)]
pub struct ConfigReport {
    /// The kind measured.
    pub kind: ConfigKind,
    /// Reader threads.
    pub readers: usize,
    /// Reads in the measured window, all readers.
    pub reads: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Latency of each deferred reload in the window (`replace`, `store`,
    /// `swap` + `defer_destroy`, write lock + assignment).
    pub reload: Histogram,
    /// Latency of each reload that also waited for a grace period (RCU
    /// cells only: `swap` + `into_inner_after_grace_period`).
    pub reload_gp: Histogram,
    /// Reads that reached a torn or dropped value (must be 0).
    pub mismatches: u64,
}

impl ConfigReport {
    /// Reads per second per reader thread.
    pub fn reads_per_sec_per_reader(&self) -> f64 {
        self.reads as f64 / self.elapsed.as_secs_f64() / self.readers.max(1) as f64
    }

    /// One line: kind, reads/s per reader, reload latencies.
    pub fn line(&self) -> String {
        let q = |h: &Histogram, p| h.quantile(p).map_or("-".into(), crate::run::fmt_ns);
        format!(
            "{:<20} readers {} reads/s/reader {:>9.3} M  reload p50 {:>9} p99 {:>9}  reload+gp p50 {:>9} p99 {:>9}  \
             reloads {} mismatches {}",
            self.kind.name(),
            self.readers,
            self.reads_per_sec_per_reader() / 1e6,
            q(&self.reload, 0.5),
            q(&self.reload, 0.99),
            q(&self.reload_gp, 0.5),
            q(&self.reload_gp, 0.99),
            self.reload.count() + self.reload_gp.count(),
            self.mismatches
        )
    }
}

/// One chunk of [`CHUNK`] reads from read number `first`: its mismatches.
type Chunk<'a> = dyn FnMut(u64) -> u64 + 'a;
/// What runs inside a reader's session, given its chunk function.
type SessionBody<'a> = dyn FnMut(&mut Chunk<'_>) + 'a;

/// A configuration holder under test.
trait ConfigStore: Sync {
    /// Registers the calling thread as this kind's reader, hands `body` a
    /// function that does one chunk of [`CHUNK`] reads (from read number
    /// `first`, returning its mismatches), and unregisters. One dynamic
    /// call per chunk; the reads inside are inlined.
    fn read_session(&self, body: &mut SessionBody<'_>);
    /// Publishes `next`; the old value is freed when no reader holds it.
    fn reload(&self, next: Config);
    /// Publishes `next` and waits until the old value can be freed; hands
    /// `next` back if the kind has no such operation.
    fn reload_and_wait(&self, next: Config) -> Result<(), Config> {
        Err(next)
    }
}

/// Reads in chunks of [`CHUNK`] until `stop` on the calling thread, storing
/// the read count in `progress` after each chunk. Returns (reads,
/// mismatches).
fn read_until<S: ConfigStore + ?Sized>(store: &S, stop: &AtomicBool, progress: &AtomicU64) -> (u64, u64) {
    let mut totals = (0, 0);
    store.read_session(&mut |chunk| totals = read_loop(stop, progress, chunk));
    totals
}

/// `read_until`'s loop; `chunk(first)` does one chunk.
fn read_loop(stop: &AtomicBool, progress: &AtomicU64, chunk: &mut Chunk<'_>) -> (u64, u64) {
    let (mut reads, mut mismatches) = (0u64, 0u64);
    // Relaxed: the flag carries no data; the join after it orders the rest.
    while !stop.load(Ordering::Relaxed) {
        mismatches += chunk(reads);
        reads += CHUNK;
        // Relaxed: a statistic sampled by the run; no data depends on it.
        progress.store(reads, Ordering::Relaxed);
    }
    (reads, mismatches)
}

fn count_bad(first: u64, mut read: impl FnMut(u64) -> bool) -> u64 {
    (first..first + CHUNK).map(|i| u64::from(!read(i))).sum()
}

struct MembCell(rcu_memb::RcuCell<Config>);

impl ConfigStore for MembCell {
    fn read_session(&self, body: &mut SessionBody<'_>) {
        rcu_memb::register_thread();
        body(&mut |first| {
            count_bad(first, |i| {
                let guard = rcu_memb::read_lock();
                self.0.load(&guard).read_ok(i)
            })
        });
        rcu_memb::unregister_thread();
    }
    fn reload(&self, next: Config) {
        self.0.replace(next);
    }
    fn reload_and_wait(&self, next: Config) -> Result<(), Config> {
        drop(self.0.swap(next).into_inner_after_grace_period());
        Ok(())
    }
}

struct QsbrCell(rcu_qsbr::RcuCell<Config>);

impl ConfigStore for QsbrCell {
    fn read_session(&self, body: &mut SessionBody<'_>) {
        let mut thread = rcu_qsbr::register_thread();
        body(&mut |first| {
            let bad = count_bad(first, |i| {
                let guard = thread.read_lock();
                self.0.load(&guard).read_ok(i)
            });
            thread.quiescent_state();
            bad
        });
    }
    fn reload(&self, next: Config) {
        self.0.replace(next);
    }
    fn reload_and_wait(&self, next: Config) -> Result<(), Config> {
        drop(self.0.swap(next).into_inner_after_grace_period());
        Ok(())
    }
}

struct ArcSwapStore {
    cell: arc_swap::ArcSwap<Config>,
    full: bool,
}

impl ConfigStore for ArcSwapStore {
    fn read_session(&self, body: &mut SessionBody<'_>) {
        if self.full {
            body(&mut |first| count_bad(first, |i| self.cell.load_full().read_ok(i)))
        } else {
            body(&mut |first| count_bad(first, |i| self.cell.load().read_ok(i)))
        }
    }
    fn reload(&self, next: Config) {
        self.cell.store(Arc::new(next));
    }
}

struct EpochStore(crossbeam_epoch::Atomic<Config>);

impl ConfigStore for EpochStore {
    fn read_session(&self, body: &mut SessionBody<'_>) {
        let handle = crossbeam_epoch::default_collector().register();
        body(&mut |first| {
            count_bad(first, |i| {
                let guard = handle.pin();
                // Acquire pairs with the AcqRel swap in `reload`.
                let p = self.0.load(Ordering::Acquire, &guard);
                // SAFETY: never null (set at creation, swapped for non-null
                // values); freed only by defer_destroy, which waits for
                // every guard pinned before the swap, such as this one.
                unsafe { p.deref() }.read_ok(i)
            })
        });
    }
    fn reload(&self, next: Config) {
        let guard = crossbeam_epoch::pin();
        // AcqRel: Release publishes `next` to readers' Acquire loads;
        // Acquire orders the old value's reads before its destruction.
        let old = self.0.swap(crossbeam_epoch::Owned::new(next), Ordering::AcqRel, &guard);
        // SAFETY: `old` is unpublished; defer_destroy drops it once every
        // guard that could have loaded it is gone.
        unsafe { guard.defer_destroy(old) };
    }
}

impl Drop for EpochStore {
    fn drop(&mut self) {
        // SAFETY: the run is over: no reader thread is left, so the current
        // value is reachable only from here.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            drop(self.0.load(Ordering::Relaxed, guard).into_owned());
        }
    }
}

struct RwLockArc(RwLock<Arc<Config>>);

impl ConfigStore for RwLockArc {
    fn read_session(&self, body: &mut SessionBody<'_>) {
        body(&mut |first| {
            count_bad(first, |i| {
                let config = Arc::clone(&self.0.read().expect("config lock poisoned"));
                config.read_ok(i)
            })
        });
    }
    fn reload(&self, next: Config) {
        let next = Arc::new(next);
        let old = std::mem::replace(&mut *self.0.write().expect("config lock poisoned"), next);
        drop(old);
    }
}

/// Runs one kind: readers on threads 0..N of the pin plan, the reloader on
/// thread N.
pub fn run_config(kind: ConfigKind, config: &ConfigRunConfig) -> ConfigReport {
    let first = Config::new(0);
    match kind {
        ConfigKind::MembCell => run_store(kind, config, &MembCell(rcu_memb::RcuCell::new(first))),
        ConfigKind::QsbrCell => run_store(kind, config, &QsbrCell(rcu_qsbr::RcuCell::new(first))),
        ConfigKind::ArcSwapLoad | ConfigKind::ArcSwapLoadFull => {
            let store =
                ArcSwapStore { cell: arc_swap::ArcSwap::from_pointee(first), full: kind != ConfigKind::ArcSwapLoad };
            run_store(kind, config, &store)
        }
        ConfigKind::Epoch => run_store(kind, config, &EpochStore(crossbeam_epoch::Atomic::new(first))),
        ConfigKind::RwLockArc => run_store(kind, config, &RwLockArc(RwLock::new(Arc::new(first)))),
    }
}

/// For the criterion bench: registers the calling thread as a reader of
/// `kind` while a reloader thread reloads every `period`, and calls `f`
/// with a timer: `timer(n)` does `n` reads (rounded up to whole chunks,
/// the time scaled back to `n`) and returns their time.
///
/// # Panics
///
/// If a read reached a dropped value.
pub fn with_reads_while_reloading(kind: ConfigKind, period: Duration, f: impl FnOnce(&mut dyn FnMut(u64) -> Duration)) {
    let mut f = Some(f);
    let mut timed = |store: &dyn ConfigStore| timed_session(store, period, f.take().expect("called once"));
    let first = Config::new(0);
    match kind {
        ConfigKind::MembCell => timed(&MembCell(rcu_memb::RcuCell::new(first))),
        ConfigKind::QsbrCell => timed(&QsbrCell(rcu_qsbr::RcuCell::new(first))),
        ConfigKind::ArcSwapLoad | ConfigKind::ArcSwapLoadFull => {
            timed(&ArcSwapStore { cell: arc_swap::ArcSwap::from_pointee(first), full: kind != ConfigKind::ArcSwapLoad })
        }
        ConfigKind::Epoch => timed(&EpochStore(crossbeam_epoch::Atomic::new(first))),
        ConfigKind::RwLockArc => timed(&RwLockArc(RwLock::new(Arc::new(first)))),
    }
}

fn timed_session(store: &dyn ConfigStore, period: Duration, f: impl FnOnce(&mut dyn FnMut(u64) -> Duration)) {
    // `measuring` stays false: criterion times the reads, not the reloads.
    let (stop_reloader, measuring) = (AtomicBool::new(false), AtomicBool::new(false));
    std::thread::scope(|s| {
        s.spawn(|| reload_loop(store, period, &stop_reloader, &measuring));
        let mut f = Some(f);
        store.read_session(&mut |chunk| {
            let mut timer = |n: u64| {
                let chunks = n.div_ceil(CHUNK).max(1);
                let start = Instant::now();
                let bad: u64 = (0..chunks).map(|c| chunk(c * CHUNK)).sum();
                let t = start.elapsed();
                assert_eq!(bad, 0, "a reader reached a dropped config value");
                t.mul_f64(n as f64 / (chunks * CHUNK) as f64)
            };
            (f.take().expect("one session"))(&mut timer);
        });
        // Relaxed: the flag carries no data; the scope's join orders the
        // rest.
        stop_reloader.store(true, Ordering::Relaxed);
    });
}

/// What the reloader hands back: deferred and waiting reload latencies.
struct ReloadTimes {
    reload: Histogram,
    reload_gp: Histogram,
}

fn run_store<S: ConfigStore>(kind: ConfigKind, config: &ConfigRunConfig, store: &S) -> ConfigReport {
    let plan = CpuPlan::new(config.pin);
    let stop = AtomicBool::new(false);
    let measuring = AtomicBool::new(false);
    let progress: Vec<CachePadded<AtomicU64>> =
        (0..config.readers).map(|_| CachePadded::new(AtomicU64::new(0))).collect();
    std::thread::scope(|s| {
        let readers: Vec<_> = progress
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let (plan, stop) = (&plan, &stop);
                s.spawn(move || {
                    plan.pin(k);
                    read_until(store, stop, p)
                })
            })
            .collect();
        let reloader = s.spawn(|| {
            plan.pin(config.readers);
            reload_loop(store, config.reload_period, &stop, &measuring)
        });
        for p in &progress {
            // Relaxed: waiting for a statistic to move.
            while p.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
        }
        std::thread::sleep(config.warmup);
        let sample = || progress.iter().map(|p| p.load(Ordering::Relaxed)).sum::<u64>();
        // Relaxed: the flag only selects which reloads are recorded.
        measuring.store(true, Ordering::Relaxed);
        let (start, reads_before) = (Instant::now(), sample());
        std::thread::sleep(config.duration);
        let (reads, elapsed) = (sample() - reads_before, start.elapsed());
        measuring.store(false, Ordering::Relaxed);
        // Relaxed: see `read_loop`.
        stop.store(true, Ordering::Relaxed);
        let mismatches = readers.into_iter().map(|r| r.join().expect("config reader panicked").1).sum();
        let times = reloader.join().expect("config reloader panicked");
        ConfigReport {
            kind,
            readers: config.readers,
            reads,
            elapsed,
            reload: times.reload,
            reload_gp: times.reload_gp,
            mismatches,
        }
    })
}

/// Reloads every `period` until `stop`, alternating a deferred reload and
/// (where the kind has one) a reload that waits for a grace period;
/// records latencies while `measuring`.
fn reload_loop<S: ConfigStore + ?Sized>(
    store: &S,
    period: Duration,
    stop: &AtomicBool,
    measuring: &AtomicBool,
) -> ReloadTimes {
    let mut times = ReloadTimes { reload: Histogram::new(), reload_gp: Histogram::new() };
    let mut next_at = Instant::now();
    // Relaxed: flags carry no data (see `run_store`).
    for generation in 1u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let next = Config::new(generation);
        let start = Instant::now();
        let waited = match generation % 2 {
            0 => store.reload_and_wait(next).map_err(|next| store.reload(next)).is_ok(),
            _ => {
                store.reload(next);
                false
            }
        };
        let took = start.elapsed();
        if measuring.load(Ordering::Relaxed) {
            if waited { &mut times.reload_gp } else { &mut times.reload }.record_duration(took);
        }
        next_at += period;
        let now = Instant::now();
        match next_at.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            None => next_at = now,
        }
    }
    times
}

/// The pool row's implementations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParIterKind {
    /// `rcu_rayon::memb` pool, `rcu_memb::RcuCell<Table>`.
    Memb,
    /// `rcu_rayon::qsbr` pool, `rcu_qsbr::RcuCell<Table>`.
    Qsbr,
    /// A plain rayon pool, `crossbeam_epoch::Atomic<Table>` under `pin`.
    Epoch,
}

impl ParIterKind {
    /// Every kind, in report order.
    pub const ALL: [ParIterKind; 3] = [ParIterKind::Memb, ParIterKind::Qsbr, ParIterKind::Epoch];

    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ParIterKind::Memb => "par_iter-rcu-memb",
            ParIterKind::Qsbr => "par_iter-rcu-qsbr",
            ParIterKind::Epoch => "par_iter-crossbeam-epoch",
        }
    }
}

/// Keys one `par_iter` pass looks up.
const PASS_KEYS: usize = 1 << 16;
/// Keys per read scope (one section, or one pin, per chunk).
const PAR_CHUNK: usize = 1024;

/// What one pool run measured.
#[derive(Debug)]
pub struct ParIterReport {
    /// The kind measured.
    pub kind: ParIterKind,
    /// Lookups in the measured window.
    pub lookups: u64,
    /// Length of the window.
    pub elapsed: Duration,
    /// Passes whose hit count was wrong (must be 0).
    pub mismatches: u64,
}

impl ParIterReport {
    /// Lookups per second, whole pool.
    pub fn lookups_per_sec(&self) -> f64 {
        self.lookups as f64 / self.elapsed.as_secs_f64()
    }
}

/// A table behind a cell, looked up a chunk at a time inside a read scope.
trait TableCell: Sync {
    /// Hits among `keys`, read under one read scope of this kind.
    fn hits(&self, keys: &[u64]) -> usize;
    /// Publishes a fresh table and retires the old one.
    fn replace(&self);
}

impl TableCell for rcu_memb::RcuCell<Table> {
    fn hits(&self, keys: &[u64]) -> usize {
        rcu_rayon::memb::read(|guard| {
            let table = self.load(guard);
            keys.iter().filter(|&&k| table.lookup(k)).count()
        })
    }
    fn replace(&self) {
        self.replace_box(Table::new_boxed());
    }
}

impl TableCell for rcu_qsbr::RcuCell<Table> {
    fn hits(&self, keys: &[u64]) -> usize {
        rcu_rayon::qsbr::read(|guard| {
            let table = self.load(guard);
            keys.iter().filter(|&&k| table.lookup(k)).count()
        })
    }
    fn replace(&self) {
        self.replace_box(Table::new_boxed());
    }
}

struct EpochTable(crossbeam_epoch::Atomic<Table>);

impl TableCell for EpochTable {
    fn hits(&self, keys: &[u64]) -> usize {
        let guard = crossbeam_epoch::pin();
        // Acquire pairs with the AcqRel swap in `replace`.
        let p = self.0.load(Ordering::Acquire, &guard);
        // SAFETY: never null; freed only by defer_destroy after this pin.
        let table = unsafe { p.deref() };
        keys.iter().filter(|&&k| table.lookup(k)).count()
    }
    fn replace(&self) {
        let guard = crossbeam_epoch::pin();
        // AcqRel: as in `EpochStore::reload`.
        let old = self.0.swap(crossbeam_epoch::Owned::from(Table::new_boxed()), Ordering::AcqRel, &guard);
        // SAFETY: `old` is unpublished; destroyed after every older pin.
        unsafe { guard.defer_destroy(old) };
    }
}

impl Drop for EpochTable {
    fn drop(&mut self) {
        // SAFETY: the pool and the writer are gone; nothing else reaches it.
        unsafe { drop(self.0.load(Ordering::Relaxed, crossbeam_epoch::unprotected()).into_owned()) };
    }
}

/// Runs the pool row for `kind`: a pool of `threads` workers, passes of
/// `PASS_KEYS` (65,536) lookups in chunks of `PAR_CHUNK` (1,024), a writer replacing the
/// table every `config.reload_period`.
pub fn run_par_iter(kind: ParIterKind, threads: usize, config: &ConfigRunConfig) -> ParIterReport {
    let builder = match kind {
        ParIterKind::Memb => rcu_rayon::memb::pool_builder(),
        ParIterKind::Qsbr => rcu_rayon::qsbr::pool_builder(),
        ParIterKind::Epoch => rayon::ThreadPoolBuilder::new(),
    };
    let pool = builder.num_threads(threads).build().expect("build the rayon pool");
    match kind {
        ParIterKind::Memb => par_iter_with(kind, &pool, config, &rcu_memb::RcuCell::from_box(Table::new_boxed())),
        ParIterKind::Qsbr => par_iter_with(kind, &pool, config, &rcu_qsbr::RcuCell::from_box(Table::new_boxed())),
        ParIterKind::Epoch => par_iter_with(
            kind,
            &pool,
            config,
            &EpochTable(crossbeam_epoch::Atomic::from(crossbeam_epoch::Owned::from(Table::new_boxed()))),
        ),
    }
}

fn par_iter_with<C: TableCell>(
    kind: ParIterKind,
    pool: &rayon::ThreadPool,
    config: &ConfigRunConfig,
    cell: &C,
) -> ParIterReport {
    let keys: Vec<u64> = (0..PASS_KEYS as u64).map(|i| i * Table::KEY_STRIDE % Table::KEY_SPACE).collect();
    let expected = keys.iter().filter(|&&k| Table::new_boxed().lookup(k)).count();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Relaxed: the flag carries no data; the scope's join orders
            // the rest.
            while !stop.load(Ordering::Relaxed) {
                cell.replace();
                std::thread::sleep(config.reload_period);
            }
        });
        let pass = || pool.install(|| keys.par_chunks(PAR_CHUNK).map(|chunk| cell.hits(chunk)).sum::<usize>());
        let warm = Instant::now();
        while warm.elapsed() < config.warmup {
            pass();
        }
        let (start, mut passes, mut mismatches) = (Instant::now(), 0u64, 0u64);
        while start.elapsed() < config.duration {
            mismatches += u64::from(pass() != expected);
            passes += 1;
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        ParIterReport { kind, lookups: passes * PASS_KEYS as u64, elapsed, mismatches }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ConfigRunConfig {
        ConfigRunConfig {
            readers: 2,
            duration: Duration::from_millis(100),
            warmup: Duration::from_millis(10),
            reload_period: Duration::from_millis(1),
            pin: false,
        }
    }

    #[test]
    fn a_dropped_config_fails_its_check() {
        let mut c = std::mem::ManuallyDrop::new(Config::new(5));
        assert!((0..LIMITS as u64).all(|i| c.read_ok(i)));
        assert_eq!((c.generation(), c.name()), (5, "config-5"));
        // SAFETY: dropped in place once; only its fields are read after,
        // which Drop leaves initialised (the String's buffer is not read).
        unsafe { std::mem::ManuallyDrop::drop(&mut c) };
        assert!(!c.read_ok(0), "Drop must poison the value");
    }

    #[test]
    fn every_kind_reads_and_reloads_without_a_mismatch() {
        for kind in ConfigKind::ALL {
            let r = run_config(kind, &tiny());
            assert_eq!(r.mismatches, 0, "{}", r.line());
            assert!(r.reads > 0 && r.reload.count() > 0, "{}", r.line());
            let waits = matches!(kind, ConfigKind::MembCell | ConfigKind::QsbrCell);
            assert_eq!(r.reload_gp.count() > 0, waits, "{}", r.line());
        }
    }

    #[test]
    fn every_pool_kind_finds_the_expected_hits() {
        for kind in ParIterKind::ALL {
            let r = run_par_iter(kind, 2, &tiny());
            assert_eq!(r.mismatches, 0, "{kind:?}");
            assert!(r.lookups > 0, "{kind:?}");
        }
    }
}
