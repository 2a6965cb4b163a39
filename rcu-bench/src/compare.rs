//! `rcu-bench compare`: one fixed suite over every implementation, in one
//! command, with ratios against named baselines.
//!
//! The suite, per implementation:
//!
//! * **read pair**: one thread, back-to-back read-side sections each
//!   dereferencing the published node, no writer; nanoseconds per section.
//! * **2 readers + 1 writer**: `rcu-bench run IMPL 2 1` (`-m sync`, or
//!   `-m call` for crossbeam-epoch, which has no synchronize); reads per
//!   second, writes (= grace periods waited for) per second, and the
//!   median and p99 grace-period latency the writer saw.
//! * **flood** (per flood kind, each in a child process): objects per
//!   second and peak RSS (see `flood`).
//! * **config reload** (per way of holding a configuration value, see
//!   `config_reload`): reads per second per reader while one thread reloads
//!   every millisecond, the reload latency (median, p99, and with a grace
//!   period waited for), and the rayon pool lookup row.
//!
//! Methodology: the implementations are interleaved, A B C then C B A and
//! so on for `rounds` rounds, so slow drift of the machine (other load,
//! thermal state, the allocator's state) spreads over all of them instead
//! of landing on whichever ran last; each figure is the median over rounds,
//! with the min and max shown. Every timed section starts with a warm-up
//! that is not counted. Threads are pinned (see `pin`).

use crate::config_reload::{run_config, run_par_iter, ConfigKind, ConfigRunConfig, ParIterKind};
use crate::flood::{run_flood_in_child, FloodConfig, FloodKind, FloodReport};
use crate::gp_sharing::{run_sharing, SharingConfig};
use crate::implementation::{EpochReader, Implementation, MembReader, QsbrReader, ReadSide, ReaderShared};
use crate::run::{run, RetireMode, RunConfig};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The suite's sizes.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Rounds (each runs every implementation once, order alternating).
    pub rounds: usize,
    /// Length of each read-pair measurement.
    pub read_time: Duration,
    /// Measured window of each 2-reader + 1-writer run.
    pub run_time: Duration,
    /// Warm-up before each measurement.
    pub warmup: Duration,
    /// Flood: threads and objects per thread (None: no flood).
    pub flood: Option<FloodConfig>,
    /// Config reload: readers, window, reload period (None: not run).
    pub config: Option<ConfigRunConfig>,
    /// Workers of the pool in the `par_iter` row.
    pub pool_threads: usize,
    /// Grace-period rows: 4 writers x this many `synchronize_rcu` with no
    /// reader, a tenth of it with one busy reader, and the 1 reader + 1
    /// writer run (None: not run).
    pub sharing_calls: Option<u64>,
    /// Pin threads to CPUs.
    pub pin: bool,
    /// Implementations to compare.
    pub implementations: Vec<Implementation>,
    /// Run the read-pair and 2 readers + 1 writer suite for them.
    pub suite: bool,
}

impl CompareConfig {
    /// The full suite (a few minutes on a 2-core machine).
    pub fn full(pin: bool) -> Self {
        CompareConfig {
            rounds: 5,
            read_time: Duration::from_secs(1),
            run_time: Duration::from_secs(3),
            warmup: Duration::from_millis(300),
            flood: Some(FloodConfig { threads: 2, objects_per_thread: 2_000_000, pin }),
            config: Some(ConfigRunConfig::full(pin)),
            pool_threads: 2,
            sharing_calls: Some(100_000),
            pin,
            implementations: Implementation::ALL.to_vec(),
            suite: true,
        }
    }

    /// Only the grace-period rows (`rcu-bench sharing`).
    pub fn sharing_only(calls: u64, rounds: usize, run_time: Duration, pin: bool) -> Self {
        CompareConfig {
            rounds,
            read_time: Duration::ZERO,
            run_time,
            warmup: Duration::from_millis(300).min(run_time),
            flood: None,
            config: None,
            pool_threads: 2,
            sharing_calls: Some(calls),
            pin,
            implementations: Implementation::ALL.iter().copied().filter(|i| i.has_synchronize()).collect(),
            suite: false,
        }
    }

    /// Only the config-reload part (`rcu-bench config`).
    pub fn config_only(config: ConfigRunConfig, rounds: usize, pool_threads: usize) -> Self {
        CompareConfig {
            rounds,
            read_time: Duration::ZERO,
            run_time: Duration::ZERO,
            warmup: config.warmup,
            flood: None,
            pin: config.pin,
            config: Some(config),
            pool_threads,
            sharing_calls: None,
            implementations: Vec::new(),
            suite: false,
        }
    }

    /// A few seconds in all, for CI and for trying the command out; the
    /// figures are noisy.
    pub fn quick(pin: bool) -> Self {
        CompareConfig {
            rounds: 2,
            read_time: Duration::from_millis(50),
            run_time: Duration::from_millis(200),
            warmup: Duration::from_millis(50),
            flood: Some(FloodConfig { threads: 2, objects_per_thread: 100_000, pin }),
            config: Some(ConfigRunConfig::quick(pin)),
            pool_threads: 2,
            sharing_calls: Some(2_000),
            pin,
            implementations: Implementation::ALL.to_vec(),
            suite: true,
        }
    }
}

/// A metric: its name, unit, and whether larger is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// ns per read-side section with dereference, one thread.
    ReadPairNs,
    /// Reads per second, 2 readers + 1 writer.
    ReadsPerSec,
    /// Writes per second, 2 readers + 1 writer.
    WritesPerSec,
    /// Median grace-period latency seen by the writer, ns.
    GpMedianNs,
    /// 99th-percentile grace-period latency seen by the writer, ns.
    GpP99Ns,
    /// Flood objects per second (loop plus drain).
    FloodObjectsPerSec,
    /// Flood peak RSS, KiB.
    FloodPeakRssKib,
    /// Config reads per second per reader, while reloaded every 1 ms.
    ConfigReadsPerSec,
    /// Median latency of a deferred reload (`replace`, `store`, ...), ns.
    ConfigReloadNs,
    /// 99th-percentile latency of a deferred reload, ns.
    ConfigReloadP99Ns,
    /// Median latency of a reload that waits for a grace period, ns.
    ConfigReloadGpNs,
    /// Lookups per second on the rayon pool (whole pool).
    ParIterLookupsPerSec,
    /// `synchronize_rcu` calls per second, 4 writers, no reader registered.
    SyncNoReaderCallsPerSec,
    /// `synchronize_rcu` calls per second, 4 writers, 1 busy reader.
    SyncBusyCallsPerSec,
    /// Grace periods run per call, 4 writers, 1 busy reader.
    SyncBusyGpsPerCall,
    /// Reads per second, 1 reader + 1 writer.
    Reads1r1w,
    /// Writes per second, 1 reader + 1 writer.
    Writes1r1w,
}

impl Metric {
    /// Column name (also used in the CSV).
    pub fn name(self) -> &'static str {
        match self {
            Metric::ReadPairNs => "read_pair_ns",
            Metric::ReadsPerSec => "reads_per_sec_2r1w",
            Metric::WritesPerSec => "writes_per_sec_2r1w",
            Metric::GpMedianNs => "gp_median_ns",
            Metric::GpP99Ns => "gp_p99_ns",
            Metric::FloodObjectsPerSec => "flood_objects_per_sec",
            Metric::FloodPeakRssKib => "flood_peak_rss_kib",
            Metric::ConfigReadsPerSec => "reads_per_sec_per_reader",
            Metric::ConfigReloadNs => "reload_ns",
            Metric::ConfigReloadP99Ns => "reload_p99_ns",
            Metric::ConfigReloadGpNs => "reload_gp_ns",
            Metric::ParIterLookupsPerSec => "lookups_per_sec",
            Metric::SyncNoReaderCallsPerSec => "sync_calls_per_sec_no_reader",
            Metric::SyncBusyCallsPerSec => "sync_calls_per_sec_1_reader",
            Metric::SyncBusyGpsPerCall => "gps_per_call_1_reader",
            Metric::Reads1r1w => "reads_per_sec_1r1w",
            Metric::Writes1r1w => "writes_per_sec_1r1w",
        }
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::ReadsPerSec
                | Metric::WritesPerSec
                | Metric::FloodObjectsPerSec
                | Metric::ConfigReadsPerSec
                | Metric::ParIterLookupsPerSec
                | Metric::SyncNoReaderCallsPerSec
                | Metric::SyncBusyCallsPerSec
                | Metric::Reads1r1w
                | Metric::Writes1r1w
        )
    }
}

/// Every sample, by (row name, metric): one per round.
#[derive(Clone, Debug, Default)]
pub struct Results {
    samples: BTreeMap<(String, Metric), Vec<f64>>,
    /// Row names in first-seen order.
    rows: Vec<String>,
    /// Notes printed under the table (e.g. what the epoch writer does).
    pub notes: Vec<String>,
}

impl Results {
    fn add(&mut self, row: &str, metric: Metric, value: f64) {
        if !self.rows.iter().any(|r| r == row) {
            self.rows.push(row.to_string());
        }
        self.samples.entry((row.to_string(), metric)).or_default().push(value);
    }

    /// Row names in order.
    pub fn rows(&self) -> &[String] {
        &self.rows
    }

    /// (median, min, max, samples) of a row's metric.
    pub fn stats(&self, row: &str, metric: Metric) -> Option<(f64, f64, f64, usize)> {
        let v = self.samples.get(&(row.to_string(), metric))?;
        let mut s = v.clone();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
        Some((median, s[0], s[n - 1], n))
    }

    /// Median of a row's metric.
    pub fn median(&self, row: &str, metric: Metric) -> Option<f64> {
        self.stats(row, metric).map(|s| s.0)
    }
}

/// ns per read pair on a fresh (pinned) thread.
fn measure_read_pair(imp: Implementation, config: &CompareConfig) -> f64 {
    let pin = config.pin;
    let (warmup, read_time) = (config.warmup, config.read_time);
    std::thread::spawn(move || {
        crate::pin::CpuPlan::new(pin).pin(0);
        let shared = ReaderShared::new();
        match imp {
            Implementation::Memb => rust_read_pair(&mut MembReader::register(), &shared, warmup, read_time),
            Implementation::Qsbr => rust_read_pair(&mut QsbrReader::register(), &shared, warmup, read_time),
            Implementation::Epoch => rust_read_pair(&mut EpochReader::register(), &shared, warmup, read_time),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => lib_read_pair::<crate::liburcu::LibMemb>(&shared, warmup, read_time),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => lib_read_pair::<crate::liburcu::LibQsbr>(&shared, warmup, read_time),
        }
    })
    .join()
    .expect("read-pair thread panicked")
}

/// Sections per timed chunk: long enough that reading the clock is noise.
const CHUNK: u64 = 1 << 16;

/// Runs chunks of `chunk(n)` for `warmup` (not counted), then for `time`;
/// returns ns per iteration.
fn timed_chunks(warmup: Duration, time: Duration, mut chunk: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    while start.elapsed() < warmup {
        chunk(CHUNK);
    }
    let (start, mut iters) = (Instant::now(), 0u64);
    while start.elapsed() < time {
        chunk(CHUNK);
        iters += CHUNK;
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn rust_read_pair<R: ReadSide>(reader: &mut R, shared: &ReaderShared, warmup: Duration, time: Duration) -> f64 {
    timed_chunks(warmup, time, |n| {
        let mut sum = 0u64;
        for _ in 0..n {
            sum += reader.section(|| {
                // Acquire: rcu_dereference (pairs with the publication in
                // ReaderShared::new).
                let node = shared.slot.load(Ordering::Acquire);
                // SAFETY: the node is never retired during this measurement.
                unsafe { (*node).value }
            });
        }
        black_box(sum);
    })
}

#[cfg(feature = "liburcu")]
fn lib_read_pair<F: crate::liburcu::Urcu>(shared: &ReaderShared, warmup: Duration, time: Duration) -> f64 {
    let mut thread = crate::liburcu::UrcuThread::<F>::register();
    timed_chunks(warmup, time, |n| {
        black_box(thread.read_loop(n, &shared.slot));
    })
}

/// The 2-reader + 1-writer run of the suite for `imp`.
fn measure_run(imp: Implementation, config: &CompareConfig) -> Result<crate::run::RunReport, String> {
    let mut rc = RunConfig::new(imp, 2, 1, config.run_time);
    rc.warmup = config.warmup;
    rc.pin = config.pin;
    rc.mode = if imp.has_synchronize() { RetireMode::Sync } else { RetireMode::Call };
    run(&rc)
}

/// Runs the suite; `progress` gets a line per measurement.
pub fn compare(config: &CompareConfig, mut progress: impl FnMut(&str)) -> Result<Results, String> {
    let mut results = Results::default();
    if config.implementations.contains(&Implementation::Epoch) {
        results.notes.push(
            "crossbeam-epoch has no synchronize_rcu: its writer retires with Guard::defer (-m call), \
             so its writes/s is not a grace-period rate and it has no grace-period latency"
                .into(),
        );
    }
    for round in 0..config.rounds {
        let mut order = config.implementations.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for imp in order.into_iter().filter(|_| config.suite) {
            let ns = measure_read_pair(imp, config);
            results.add(imp.name(), Metric::ReadPairNs, ns);
            let report = measure_run(imp, config)?;
            if report.mismatches != 0 {
                return Err(format!("{imp}: readers saw {} freed nodes", report.mismatches));
            }
            results.add(imp.name(), Metric::ReadsPerSec, report.reads_per_sec());
            results.add(imp.name(), Metric::WritesPerSec, report.writes_per_sec());
            if let (Some(p50), Some(p99)) = (report.gp_latency.quantile(0.5), report.gp_latency.quantile(0.99)) {
                results.add(imp.name(), Metric::GpMedianNs, p50 as f64);
                results.add(imp.name(), Metric::GpP99Ns, p99 as f64);
            }
            progress(&format!(
                "round {}/{} {:<16} read pair {:7.2} ns  2r1w reads/s {:.3e} writes/s {:.3e}",
                round + 1,
                config.rounds,
                imp.name(),
                ns,
                report.reads_per_sec(),
                report.writes_per_sec()
            ));
        }
        if let Some(calls) = config.sharing_calls {
            measure_sharing_round(&mut results, config, calls, round, &mut progress)?;
        }
        if let Some(flood) = &config.flood {
            let mut kinds: Vec<FloodKind> = FloodKind::all()
                .into_iter()
                .filter(|k| k.implementation().is_none_or(|i| config.implementations.contains(&i)))
                .collect();
            if round % 2 == 1 {
                kinds.reverse();
            }
            for kind in kinds {
                let r: FloodReport = run_flood_in_child(kind, flood)?;
                results.add(&r.kind, Metric::FloodObjectsPerSec, r.objects_per_sec());
                if let Some(kib) = r.peak_rss_kib {
                    results.add(&r.kind, Metric::FloodPeakRssKib, kib as f64);
                }
                progress(&format!(
                    "round {}/{} flood {:<32} {:8.2} Mobj/s peak {} KiB",
                    round + 1,
                    config.rounds,
                    r.kind,
                    r.objects_per_sec() / 1e6,
                    r.peak_rss_kib.map_or("-".into(), |k| k.to_string())
                ));
            }
        }
        if let Some(cfg) = &config.config {
            measure_config_round(&mut results, cfg, config.pool_threads, round, config.rounds, &mut progress)?;
        }
    }
    Ok(results)
}

/// One round of the grace-period rows, every implementation with a
/// `synchronize_rcu`, in alternating order.
fn measure_sharing_round(
    results: &mut Results,
    config: &CompareConfig,
    calls: u64,
    round: usize,
    progress: &mut impl FnMut(&str),
) -> Result<(), String> {
    let mut order: Vec<Implementation> =
        config.implementations.iter().copied().filter(|i| i.has_synchronize()).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    for imp in order {
        let idle = SharingConfig { writers: 4, calls_per_writer: calls, busy_readers: 0, pin: config.pin };
        let r = run_sharing(imp, &idle)?;
        results.add(imp.name(), Metric::SyncNoReaderCallsPerSec, r.calls_per_sec());
        progress(&format!("round {}/{} no reader  {}", round + 1, config.rounds, r.line()));
        let busy = SharingConfig { calls_per_writer: (calls / 10).max(1), busy_readers: 1, ..idle };
        let r = run_sharing(imp, &busy)?;
        results.add(imp.name(), Metric::SyncBusyCallsPerSec, r.calls_per_sec());
        if let Some(g) = r.gps_per_call() {
            results.add(imp.name(), Metric::SyncBusyGpsPerCall, g);
        }
        progress(&format!("round {}/{} 1 reader   {}", round + 1, config.rounds, r.line()));
        let mut rc = RunConfig::new(imp, 1, 1, config.run_time);
        rc.warmup = config.warmup;
        rc.pin = config.pin;
        let report = run(&rc)?;
        if report.mismatches != 0 {
            return Err(format!("{imp}: readers saw {} freed nodes", report.mismatches));
        }
        results.add(imp.name(), Metric::Reads1r1w, report.reads_per_sec());
        results.add(imp.name(), Metric::Writes1r1w, report.writes_per_sec());
        progress(&format!(
            "round {}/{} 1r1w       {:<16} reads/s {:.3e} writes/s {:.3e}",
            round + 1,
            config.rounds,
            imp.name(),
            report.reads_per_sec(),
            report.writes_per_sec()
        ));
    }
    Ok(())
}

/// One round of the config-reload part: every kind, then the pool rows,
/// in alternating order.
fn measure_config_round(
    results: &mut Results,
    cfg: &ConfigRunConfig,
    pool_threads: usize,
    round: usize,
    rounds: usize,
    progress: &mut impl FnMut(&str),
) -> Result<(), String> {
    let mut kinds = ConfigKind::ALL.to_vec();
    let mut pools = ParIterKind::ALL.to_vec();
    if round % 2 == 1 {
        kinds.reverse();
        pools.reverse();
    }
    for kind in kinds {
        let r = run_config(kind, cfg);
        if r.mismatches != 0 {
            return Err(format!("{}: readers reached {} dropped values", kind.name(), r.mismatches));
        }
        results.add(kind.name(), Metric::ConfigReadsPerSec, r.reads_per_sec_per_reader());
        for (metric, hist, q) in [
            (Metric::ConfigReloadNs, &r.reload, 0.5),
            (Metric::ConfigReloadP99Ns, &r.reload, 0.99),
            (Metric::ConfigReloadGpNs, &r.reload_gp, 0.5),
        ] {
            if let Some(ns) = hist.quantile(q) {
                results.add(kind.name(), metric, ns as f64);
            }
        }
        progress(&format!("round {}/{rounds} config {}", round + 1, r.line()));
    }
    for kind in pools {
        let r = run_par_iter(kind, pool_threads, cfg);
        if r.mismatches != 0 {
            return Err(format!("{}: {} passes found the wrong hits", kind.name(), r.mismatches));
        }
        results.add(kind.name(), Metric::ParIterLookupsPerSec, r.lookups_per_sec());
        progress(&format!(
            "round {}/{rounds} {:<26} {:9.3} M lookups/s ({pool_threads} workers)",
            round + 1,
            kind.name(),
            r.lookups_per_sec() / 1e6
        ));
    }
    Ok(())
}

const SUITE_METRICS: [Metric; 5] =
    [Metric::ReadPairNs, Metric::ReadsPerSec, Metric::WritesPerSec, Metric::GpMedianNs, Metric::GpP99Ns];
const FLOOD_METRICS: [Metric; 2] = [Metric::FloodObjectsPerSec, Metric::FloodPeakRssKib];
const SHARING_METRICS: [Metric; 5] = [
    Metric::SyncNoReaderCallsPerSec,
    Metric::SyncBusyCallsPerSec,
    Metric::SyncBusyGpsPerCall,
    Metric::Reads1r1w,
    Metric::Writes1r1w,
];
const CONFIG_METRICS: [Metric; 5] = [
    Metric::ConfigReadsPerSec,
    Metric::ConfigReloadNs,
    Metric::ConfigReloadP99Ns,
    Metric::ConfigReloadGpNs,
    Metric::ParIterLookupsPerSec,
];

fn fmt_value(metric: Metric, v: f64) -> String {
    match metric {
        Metric::ReadPairNs => format!("{v:.2} ns"),
        Metric::ReadsPerSec
        | Metric::WritesPerSec
        | Metric::FloodObjectsPerSec
        | Metric::ConfigReadsPerSec
        | Metric::ParIterLookupsPerSec
        | Metric::SyncNoReaderCallsPerSec
        | Metric::SyncBusyCallsPerSec
        | Metric::Reads1r1w
        | Metric::Writes1r1w => {
            format!("{:.3} M/s", v / 1e6)
        }
        Metric::SyncBusyGpsPerCall => format!("{v:.3}"),
        Metric::GpMedianNs
        | Metric::GpP99Ns
        | Metric::ConfigReloadNs
        | Metric::ConfigReloadP99Ns
        | Metric::ConfigReloadGpNs => crate::run::fmt_ns(v.round() as u64),
        Metric::FloodPeakRssKib => format!("{:.1} MiB", v / 1024.0),
    }
}

/// The text report: medians with (min..max), then ratios to each baseline.
pub fn format_text(results: &Results, baselines: &[String]) -> String {
    let mut out = String::new();
    for (title, metrics) in [
        ("suite", &SUITE_METRICS[..]),
        ("grace periods", &SHARING_METRICS[..]),
        ("flood", &FLOOD_METRICS[..]),
        ("config reload", &CONFIG_METRICS[..]),
    ] {
        let rows: Vec<&String> =
            results.rows().iter().filter(|r| metrics.iter().any(|&m| results.stats(r, m).is_some())).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!("\n== {title}: median over rounds [min .. max]\n"));
        for row in &rows {
            out.push_str(&format!("{row}\n"));
            for &m in metrics {
                if let Some((med, min, max, n)) = results.stats(row, m) {
                    out.push_str(&format!(
                        "    {:<24} {:>14}   [{} .. {}] n={n}\n",
                        m.name(),
                        fmt_value(m, med),
                        fmt_value(m, min),
                        fmt_value(m, max)
                    ));
                }
            }
        }
        for base in baselines.iter().filter(|b| rows.iter().any(|r| r == b)) {
            out.push_str(&format!("\n-- {title}: ratios to {base} (value / {base}; '+' marks the better side)\n"));
            out.push_str(&format!("{:<32}", ""));
            for &m in metrics {
                out.push_str(&format!(" {:>22}", m.name()));
            }
            out.push('\n');
            for row in &rows {
                out.push_str(&format!("{row:<32}"));
                for &m in metrics {
                    let cell = match (results.median(row, m), results.median(base, m)) {
                        (Some(a), Some(b)) if b != 0.0 => {
                            let ratio = a / b;
                            let better = if m.higher_is_better() { ratio > 1.0 } else { ratio < 1.0 };
                            format!("{ratio:.3}{}", if better { "+" } else { " " })
                        }
                        _ => "-".into(),
                    };
                    out.push_str(&format!(" {cell:>22}"));
                }
                out.push('\n');
            }
        }
    }
    out.push_str(&format_goals(results));
    for note in &results.notes {
        out.push_str(&format!("\nnote: {note}\n"));
    }
    out
}

/// A goal of the rcu-bench issue: `numerator / denominator` of `metric`
/// compared with `target` (`at_most`: ratio <= target, else >= target).
struct Goal {
    numerator: &'static str,
    denominator: &'static str,
    metric: Metric,
    at_most: bool,
    target: f64,
}

const fn goal(numerator: &'static str, denominator: &'static str, metric: Metric, at_most: bool, target: f64) -> Goal {
    Goal { numerator, denominator, metric, at_most, target }
}

/// The goals, as ratios of medians from this run.
const GOALS: &[Goal] = &[
    goal("rcu-memb", "liburcu-memb", Metric::ReadPairNs, true, 1.0),
    goal("crossbeam-epoch", "rcu-memb", Metric::ReadPairNs, false, 5.0),
    goal("rcu-qsbr", "liburcu-qsbr", Metric::ReadPairNs, true, 1.0),
    goal("rcu-memb", "liburcu-memb", Metric::ReadsPerSec, false, 1.0),
    goal("rcu-qsbr", "liburcu-qsbr", Metric::ReadsPerSec, false, 1.0),
    goal("rcu-memb", "liburcu-memb", Metric::WritesPerSec, false, 1.0),
    goal("rcu-qsbr", "liburcu-qsbr", Metric::WritesPerSec, false, 1.0),
    goal("rcu-memb-call_rcu", "liburcu-memb-call_rcu", Metric::FloodObjectsPerSec, false, 2.0),
    goal("rcu-memb-kvfree_rcu", "liburcu-memb-call_rcu", Metric::FloodObjectsPerSec, false, 2.0),
    goal("rcu-qsbr-call_rcu", "liburcu-qsbr-call_rcu", Metric::FloodObjectsPerSec, false, 2.0),
    goal("rcu-qsbr-kvfree_rcu", "liburcu-qsbr-call_rcu", Metric::FloodObjectsPerSec, false, 2.0),
    goal("rcu-memb-call_rcu", "crossbeam-epoch-defer_destroy", Metric::FloodObjectsPerSec, false, 3.0),
    goal("rcu-memb-kvfree_rcu", "crossbeam-epoch-defer_destroy", Metric::FloodObjectsPerSec, false, 3.0),
    goal("rcu-qsbr-call_rcu", "crossbeam-epoch-defer_destroy", Metric::FloodObjectsPerSec, false, 3.0),
    goal("rcu-qsbr-kvfree_rcu", "crossbeam-epoch-defer_destroy", Metric::FloodObjectsPerSec, false, 3.0),
    goal("rcu-memb-kvfree_rcu", "liburcu-memb-call_rcu", Metric::FloodPeakRssKib, true, 1.0),
    goal("rcu-memb-kvfree_rcu", "crossbeam-epoch-defer_destroy", Metric::FloodPeakRssKib, true, 1.0),
    goal("rcu-qsbr-kvfree_rcu", "crossbeam-epoch-defer_destroy", Metric::FloodPeakRssKib, true, 1.0),
    goal("rcu-memb", "liburcu-memb", Metric::SyncNoReaderCallsPerSec, false, 1.0),
    goal("rcu-qsbr", "liburcu-qsbr", Metric::SyncNoReaderCallsPerSec, false, 1.0),
    goal("rcu-memb", "liburcu-memb", Metric::SyncBusyCallsPerSec, false, 1.5),
    goal("rcu-qsbr", "liburcu-qsbr", Metric::Reads1r1w, false, 1.0),
    goal("rcu-qsbr", "liburcu-qsbr", Metric::Writes1r1w, false, 1.0),
    goal("rcu-memb-cell", "arc-swap-load", Metric::ConfigReadsPerSec, false, 3.0),
    goal("rcu-qsbr-cell", "arc-swap-load", Metric::ConfigReadsPerSec, false, 10.0),
    goal("rcu-memb-cell", "arc-swap-load", Metric::ConfigReloadNs, true, 1.0),
    goal("rcu-qsbr-cell", "arc-swap-load", Metric::ConfigReloadNs, true, 1.0),
    goal("par_iter-rcu-memb", "par_iter-crossbeam-epoch", Metric::ParIterLookupsPerSec, false, 1.0),
    goal("par_iter-rcu-qsbr", "par_iter-crossbeam-epoch", Metric::ParIterLookupsPerSec, false, 1.0),
];

/// The goals this run has figures for, with the measured ratio.
fn format_goals(results: &Results) -> String {
    let mut out = String::new();
    for g in GOALS {
        let (Some(a), Some(b)) = (results.median(g.numerator, g.metric), results.median(g.denominator, g.metric))
        else {
            continue;
        };
        if out.is_empty() {
            out.push_str(
                "\n== goals (ratios of medians from this run; one run on a shared machine is evidence, not proof)\n",
            );
        }
        let ratio = a / b;
        let met = if g.at_most { ratio <= g.target } else { ratio >= g.target };
        out.push_str(&format!(
            "{:<60} {:>8.3}  goal {} {:<5} {}\n",
            format!("{} {} / {}", g.metric.name(), g.numerator, g.denominator),
            ratio,
            if g.at_most { "<=" } else { ">=" },
            g.target,
            if met { "met" } else { "MISSED" }
        ));
    }
    out
}

/// The CSV report: one line per (row, metric): median, min, max, rounds.
pub fn format_csv(results: &Results) -> String {
    let mut out = String::from("name,metric,median,min,max,rounds\n");
    for row in results.rows() {
        for &m in SUITE_METRICS.iter().chain(&SHARING_METRICS).chain(&FLOOD_METRICS).chain(&CONFIG_METRICS) {
            if let Some((med, min, max, n)) = results.stats(row, m) {
                out.push_str(&format!("{row},{},{med},{min},{max},{n}\n", m.name()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios_come_from_the_samples() {
        let mut r = Results::default();
        for v in [3.0, 1.0, 2.0] {
            r.add("a", Metric::ReadPairNs, v);
        }
        for v in [4.0, 4.0, 8.0] {
            r.add("b", Metric::ReadPairNs, v);
        }
        assert_eq!(r.stats("a", Metric::ReadPairNs), Some((2.0, 1.0, 3.0, 3)));
        let text = format_text(&r, &["b".to_string()]);
        assert!(text.contains("0.500+"), "{text}");
        let csv = format_csv(&r);
        assert!(csv.contains("a,read_pair_ns,2,1,3,3"), "{csv}");
    }

    #[test]
    fn a_tiny_suite_runs_every_rust_implementation() {
        let config = CompareConfig {
            rounds: 1,
            read_time: Duration::from_millis(5),
            // Long enough for every thread to get CPU time on a loaded
            // 2-core CI machine: this checks the plumbing, not speed.
            run_time: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            flood: None,
            config: None,
            pool_threads: 2,
            sharing_calls: None,
            pin: false,
            implementations: vec![Implementation::Memb, Implementation::Qsbr, Implementation::Epoch],
            suite: true,
        };
        let results = compare(&config, |_| {}).unwrap();
        for imp in &config.implementations {
            assert!(results.median(imp.name(), Metric::ReadPairNs).unwrap() > 0.0);
            assert!(results.median(imp.name(), Metric::ReadsPerSec).unwrap() > 0.0);
        }
        assert!(results.median("rcu-memb", Metric::GpMedianNs).is_some());
        assert!(results.median("crossbeam-epoch", Metric::GpMedianNs).is_none());
    }
}
