//! `rcu-bench config`: the bench a server author asks for first. A
//! configuration value is read by N threads while one thread reloads it
//! every millisecond, for each way a Rust server holds such a value
//! ([`ConfigKind`]):
//!
//! * each implementation's own holder ([`Peer::config_store`]): for this
//!   workspace's flavours `<flavour>-cell`, an `RcuCell`, where a read is a
//!   section, `load`, a field, and the reloader calls `replace` (the old
//!   value goes to `kvfree_rcu`, never waiting), and every other reload
//!   `swap` + `into_inner_after_grace_period` instead, whose latency is the
//!   store plus a whole grace period (the `reload_gp` figure); for
//!   crossbeam-epoch an `Atomic<Config>` loaded under `pin()`, reloaded
//!   with `swap` + `defer_destroy`;
//! * `arc-swap-load`, `arc-swap-load_full`: `ArcSwap<Config>`, read through
//!   `load()` (a debt-slot guard) or `load_full()` (an `Arc` clone);
//!   reloaded with `store`;
//! * `rwlock-arc`: `RwLock<Arc<Config>>`, read by cloning the `Arc` under
//!   the read lock, reloaded by replacing it under the write lock.
//!
//! A read reaches the value and loads one of its fields (see
//! [`Config::read_ok`]). Readers announce a QSBR quiescent state every
//! 1,024 reads, as test_urcu's readers do (the other kinds have nothing to
//! announce). Every read checks the field it loaded (a dropped `Config` is
//! poisoned), so a value freed too early is counted, not just fast.
//! Figures: reads per second per reader over the measured window (after a
//! warm-up), and the reloader's latency per reload (median and p99 of the
//! store call, excluding building the new value).
//!
//! The [`ConfigReload`] workload of `compare` adds the pool rows of
//! [`par_iter`](crate::par_iter) to these.
//!
//! [`Peer::config_store`]: crate::peer::Peer::config_store

use crate::hist::Histogram;
use crate::implementations::Implementation;
use crate::par_iter::{run_par_iter, ParIterKind, PoolRun};
use crate::peer::{count_bad, ConfigChunk, ConfigSession, ConfigStore, CONFIG_CHUNK as CHUNK};
use crate::pin::CpuPlan;
use crate::report::text::fmt_ns;
use crate::report::{Metric, Results, Round, Section, Workload};
use crate::workload::Config;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How a server holds the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    /// An implementation's own holder (`RcuCell`, crossbeam-epoch's
    /// `Atomic` under `pin`).
    Peer(Implementation),
    /// `arc_swap::ArcSwap::load`.
    ArcSwapLoad,
    /// `arc_swap::ArcSwap::load_full`.
    ArcSwapLoadFull,
    /// `RwLock<Arc<Config>>`, `Arc` cloned under the read lock.
    RwLockArc,
}

impl ConfigKind {
    /// Every kind, in report order: the holders of implementations with
    /// grace periods, arc-swap, the other implementations' holders
    /// (crossbeam-epoch), the lock.
    pub fn all() -> Vec<ConfigKind> {
        let peers = |gp: bool| {
            Implementation::all()
                .iter()
                .filter(move |i| i.has_synchronize() == gp && i.config_store().is_some())
                .map(|&i| ConfigKind::Peer(i))
        };
        let arc_swap = [ConfigKind::ArcSwapLoad, ConfigKind::ArcSwapLoadFull];
        peers(true).chain(arc_swap).chain(peers(false)).chain([ConfigKind::RwLockArc]).collect()
    }

    /// Name in reports and on the command line.
    pub fn name(self) -> String {
        match self {
            ConfigKind::Peer(imp) => imp.config_store().map_or_else(|| imp.name().to_string(), |s| s.0),
            ConfigKind::ArcSwapLoad => "arc-swap-load".into(),
            ConfigKind::ArcSwapLoadFull => "arc-swap-load_full".into(),
            ConfigKind::RwLockArc => "rwlock-arc".into(),
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Result<Self, String> {
        let all = Self::all();
        all.iter().copied().find(|k| k.name() == name).ok_or_else(|| {
            let known: Vec<String> = all.iter().map(|k| k.name()).collect();
            format!("unknown config kind `{name}`; known: {}", known.join(", "))
        })
    }

    /// A fresh holder of this kind, holding generation 0.
    fn store(self) -> Box<dyn ConfigStore> {
        let first = Config::new(0);
        match self {
            ConfigKind::Peer(imp) => imp.config_store().expect("a peer kind has a holder").1,
            ConfigKind::ArcSwapLoad | ConfigKind::ArcSwapLoadFull => Box::new(ArcSwapStore {
                cell: arc_swap::ArcSwap::from_pointee(first),
                full: self == ConfigKind::ArcSwapLoadFull,
            }),
            ConfigKind::RwLockArc => Box::new(RwLockArc(RwLock::new(Arc::new(first)))),
        }
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
        let q = |h: &Histogram, p| h.quantile(p).map_or("-".into(), fmt_ns);
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

/// Reads in chunks of [`CHUNK`] until `stop` on the calling thread, storing
/// the read count in `progress` after each chunk. Returns (reads,
/// mismatches).
fn read_until<S: ConfigStore + ?Sized>(store: &S, stop: &AtomicBool, progress: &AtomicU64) -> (u64, u64) {
    let mut totals = (0, 0);
    store.read_session(&mut |chunk| totals = read_loop(stop, progress, chunk));
    totals
}

/// `read_until`'s loop; `chunk(first)` does one chunk.
fn read_loop(stop: &AtomicBool, progress: &AtomicU64, chunk: &mut ConfigChunk<'_>) -> (u64, u64) {
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

struct ArcSwapStore {
    cell: arc_swap::ArcSwap<Config>,
    full: bool,
}

impl ConfigStore for ArcSwapStore {
    fn read_session(&self, body: &mut ConfigSession<'_>) {
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

struct RwLockArc(RwLock<Arc<Config>>);

impl ConfigStore for RwLockArc {
    fn read_session(&self, body: &mut ConfigSession<'_>) {
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
    run_store(kind, config, &*kind.store())
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
    timed_session(&*kind.store(), period, f)
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

fn run_store<S: ConfigStore + ?Sized>(kind: ConfigKind, config: &ConfigRunConfig, store: &S) -> ConfigReport {
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
        // Relaxed: a phase flag (warm-up or measured); nothing is published
        // through it, a sample recorded late is harmless.
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

/// The sizes of the config-reload workload of `compare`.
#[derive(Clone, Debug)]
pub struct ConfigReload {
    /// Readers, window, reload period.
    pub run: ConfigRunConfig,
    /// Workers of the pool in the `par_iter` rows.
    pub pool_threads: usize,
}

const METRICS: &[Metric] = &[
    Metric::ConfigReadsPerSec,
    Metric::ConfigReloadNs,
    Metric::ConfigReloadP99Ns,
    Metric::ConfigReloadGpNs,
    Metric::ParIterLookupsPerSec,
];

impl Workload for ConfigReload {
    fn section(&self) -> Section {
        Section { title: "config reload", metrics: METRICS }
    }

    /// Every kind, then the pool rows, in alternating order.
    fn round(&self, round: Round, results: &mut Results, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
        for kind in round.order(ConfigKind::all()) {
            let r = run_config(kind, &self.run);
            let name = kind.name();
            if r.mismatches != 0 {
                return Err(format!("{name}: readers reached {} dropped values", r.mismatches));
            }
            results.add(&name, Metric::ConfigReadsPerSec, r.reads_per_sec_per_reader());
            for (metric, hist, q) in [
                (Metric::ConfigReloadNs, &r.reload, 0.5),
                (Metric::ConfigReloadP99Ns, &r.reload, 0.99),
                (Metric::ConfigReloadGpNs, &r.reload_gp, 0.5),
            ] {
                if let Some(ns) = hist.quantile(q) {
                    results.add(&name, metric, ns as f64);
                }
            }
            progress(&format!("{} config {}", round.label(), r.line()));
        }
        let pool_threads = self.pool_threads;
        let pool = PoolRun {
            threads: pool_threads,
            warmup: self.run.warmup,
            duration: self.run.duration,
            reload_period: self.run.reload_period,
        };
        for kind in round.order(ParIterKind::all()) {
            let r = run_par_iter(kind, &pool);
            if r.mismatches != 0 {
                return Err(format!("{}: {} passes found the wrong hits", kind.name(), r.mismatches));
            }
            results.add(&kind.name(), Metric::ParIterLookupsPerSec, r.lookups_per_sec());
            progress(&format!(
                "{} {:<26} {:9.3} M lookups/s ({pool_threads} workers)",
                round.label(),
                kind.name(),
                r.lookups_per_sec() / 1e6
            ));
        }
        Ok(())
    }
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
    fn every_kind_reads_and_reloads_without_a_mismatch() {
        for kind in ConfigKind::all() {
            let r = run_config(kind, &tiny());
            assert_eq!(r.mismatches, 0, "{}", r.line());
            assert!(r.reads > 0 && r.reload.count() > 0, "{}", r.line());
            let waits = kind.name().ends_with("-cell");
            assert_eq!(r.reload_gp.count() > 0, waits, "{}", r.line());
        }
    }
}
