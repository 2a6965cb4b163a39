//! `rcu-bench flood`: the shape of the kernel's rcuscale kfree test.
//!
//! Threads allocate small objects (the 24-byte [`Node`]) and retire each at
//! once through a deferred free, as fast as they can, for a fixed number of
//! objects; then the deferred frees are drained (`rcu_barrier` or its
//! equivalent). Reported: the time of the loop and of loop plus drain
//! (objects per second over the latter, so work left to the reclaimer is
//! not hidden), grace periods elapsed and objects per grace period where the
//! implementation counts them, and peak RSS.
//!
//! Each kind runs in a child process of its own (`rcu-bench flood-one`),
//! because the kernel's peak-RSS counter (VmHWM) is per process and never
//! lowered, and because memory freed by one kind and kept by the allocator
//! would count toward the next kind's peak. The child prints one
//! `FLOOD key=value ...` line that the parent parses.

use crate::implementations::Implementation;
use crate::pin::CpuPlan;
use crate::report::{Metric, Results, Round, Section, Workload};
use crate::workload::Node;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// One way of retiring objects in a flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloodKind {
    /// Allocate and free at once: the floor any deferred free is held to.
    Plain,
    /// A deferred free of an implementation: its flood way number `way`
    /// (`kvfree_rcu`, `call_rcu`, `defer_destroy`, `defer_rcu`, ...).
    Peer {
        /// The implementation.
        imp: Implementation,
        /// Index into its [`flood_ways`](crate::peer::Peer::flood_ways).
        way: usize,
    },
}

impl FloodKind {
    /// Every kind built into this binary.
    pub fn all() -> Vec<FloodKind> {
        let mut kinds: Vec<FloodKind> = Implementation::all()
            .iter()
            .flat_map(|&imp| (0..imp.flood_ways().len()).map(move |way| FloodKind::Peer { imp, way }))
            .collect();
        kinds.push(FloodKind::Plain);
        kinds
    }

    /// The name in reports and on the command line.
    pub fn name(self) -> String {
        match self {
            FloodKind::Plain => "plain-alloc-free".into(),
            FloodKind::Peer { imp, way } => format!("{}-{}", imp.name(), imp.flood_ways()[way]),
        }
    }

    /// Parses a name from [`FloodKind::name`] (or a unique prefix of one).
    pub fn from_name(name: &str) -> Result<Self, String> {
        let all = Self::all();
        if let Some(k) = all.iter().find(|k| k.name() == name) {
            return Ok(*k);
        }
        let matches: Vec<&FloodKind> = all.iter().filter(|k| k.name().starts_with(name)).collect();
        match matches.as_slice() {
            [one] => Ok(**one),
            _ => Err(format!(
                "unknown or ambiguous flood kind `{name}`; known: {}{}",
                all.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
                if name.contains("urcu") { " (liburcu kinds need the `liburcu` feature)" } else { "" }
            )),
        }
    }

    /// The implementation it belongs to (None for the plain loop).
    pub fn implementation(self) -> Option<Implementation> {
        match self {
            FloodKind::Plain => None,
            FloodKind::Peer { imp, .. } => Some(imp),
        }
    }
}

/// A flood's parameters.
#[derive(Clone, Copy, Debug)]
pub struct FloodConfig {
    /// Threads allocating and retiring.
    pub threads: usize,
    /// Objects each thread allocates and retires.
    pub objects_per_thread: u64,
    /// Pin threads round robin to CPUs.
    pub pin: bool,
}

/// What one flood measured.
#[derive(Clone, Debug, PartialEq)]
pub struct FloodReport {
    /// The kind's name.
    pub kind: String,
    /// Threads.
    pub threads: usize,
    /// Objects retired, all threads.
    pub objects: u64,
    /// From the start line to the last thread's last retirement.
    pub loop_time: Duration,
    /// Loop plus drain (every object freed).
    pub total_time: Duration,
    /// Grace periods completed during loop and drain, where counted.
    pub grace_periods: Option<u64>,
    /// Peak resident set (VmHWM) of the process that ran it, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Resident set before the flood, KiB.
    pub base_rss_kib: Option<u64>,
}

impl FloodReport {
    /// Objects per second, loop plus drain.
    pub fn objects_per_sec(&self) -> f64 {
        self.objects as f64 / self.total_time.as_secs_f64()
    }

    /// Nanoseconds per object per thread (loop plus drain).
    pub fn ns_per_object_per_thread(&self) -> f64 {
        self.total_time.as_nanos() as f64 * self.threads as f64 / self.objects as f64
    }

    /// Objects per grace period, where grace periods are counted.
    pub fn objects_per_gp(&self) -> Option<f64> {
        self.grace_periods.filter(|&g| g > 0).map(|g| self.objects as f64 / g as f64)
    }

    /// The child's one-line report.
    pub fn to_line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        format!(
            "FLOOD kind={} threads={} objects={} loop_ns={} total_ns={} gps={} peak_rss_kib={} base_rss_kib={}",
            self.kind,
            self.threads,
            self.objects,
            self.loop_time.as_nanos(),
            self.total_time.as_nanos(),
            opt(self.grace_periods),
            opt(self.peak_rss_kib),
            opt(self.base_rss_kib)
        )
    }

    /// Parses [`FloodReport::to_line`]'s output.
    pub fn parse_line(line: &str) -> Result<Self, String> {
        let rest = line.strip_prefix("FLOOD ").ok_or_else(|| format!("not a FLOOD line: {line}"))?;
        let field = |key: &str| -> Result<&str, String> {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("FLOOD line without {key}: {line}"))
        };
        let num = |key: &str| -> Result<u64, String> { field(key)?.parse().map_err(|e| format!("{key}: {e}")) };
        let opt = |key: &str| -> Result<Option<u64>, String> {
            match field(key)? {
                "-" => Ok(None),
                v => v.parse().map(Some).map_err(|e| format!("{key}: {e}")),
            }
        };
        Ok(FloodReport {
            kind: field("kind")?.to_string(),
            threads: num("threads")? as usize,
            objects: num("objects")?,
            loop_time: Duration::from_nanos(num("loop_ns")?),
            total_time: Duration::from_nanos(num("total_ns")?),
            grace_periods: opt("gps")?,
            peak_rss_kib: opt("peak_rss_kib")?,
            base_rss_kib: opt("base_rss_kib")?,
        })
    }
}

fn grace_periods(kind: FloodKind) -> Option<u64> {
    kind.implementation()?.grace_periods()
}

/// One thread's loop: `n` objects allocated and retired.
fn flood_thread(kind: FloodKind, n: u64) {
    match kind {
        FloodKind::Plain => {
            for _ in 0..n {
                drop(black_box(Node::new_boxed()));
            }
        }
        FloodKind::Peer { imp, way } => imp.flood(way, &mut |flood| flood(n, false)),
    }
}

/// Waits until everything the flood deferred has been freed.
fn drain(kind: FloodKind) {
    if let FloodKind::Peer { imp, way } = kind {
        imp.flood_drain(way);
    }
}

/// Runs one flood in this process. Peak RSS is this process's VmHWM, so
/// call it in a fresh process ([`run_flood_in_child`]) for a clean figure.
pub fn run_flood_here(kind: FloodKind, config: &FloodConfig) -> FloodReport {
    let plan = CpuPlan::new(config.pin);
    let base_rss_kib = crate::rss::rss_kib();
    let gp0 = grace_periods(kind);
    let start_line = Barrier::new(config.threads + 1);
    let (start, loop_time) = std::thread::scope(|s| {
        let threads: Vec<_> = (0..config.threads)
            .map(|k| {
                let (plan, start_line) = (&plan, &start_line);
                s.spawn(move || {
                    plan.pin(k);
                    start_line.wait();
                    flood_thread(kind, config.objects_per_thread);
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        threads.into_iter().for_each(|t| t.join().expect("flood thread panicked"));
        (start, start.elapsed())
    });
    drain(kind);
    let total_time = start.elapsed();
    FloodReport {
        kind: kind.name(),
        threads: config.threads,
        objects: config.threads as u64 * config.objects_per_thread,
        loop_time,
        total_time,
        grace_periods: gp0.zip(grace_periods(kind)).map(|(a, b)| b - a),
        peak_rss_kib: crate::rss::peak_rss_kib(),
        base_rss_kib,
    }
}

/// Runs one flood in a fresh child process (`<this binary> flood-one ...`)
/// and parses its report.
pub fn run_flood_in_child(kind: FloodKind, config: &FloodConfig) -> Result<FloodReport, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable to re-run it: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["flood-one", "--kind", &kind.name()])
        .args(["--threads", &config.threads.to_string()])
        .args(["--objects", &config.objects_per_thread.to_string()]);
    if !config.pin {
        cmd.arg("--no-pin");
    }
    let out = cmd.output().map_err(|e| format!("cannot start the flood child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "flood child for {} failed ({}): {}",
            kind.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("FLOOD "))
        .ok_or_else(|| format!("flood child for {} printed no FLOOD line: {stdout}", kind.name()))?;
    FloodReport::parse_line(line)
}

/// A table of flood reports, with ratios against `baseline` (a kind name).
pub fn format_table(reports: &[FloodReport], baseline: Option<&str>) -> String {
    let base = baseline.and_then(|b| reports.iter().find(|r| r.kind == b));
    let mut out = format!(
        "{:<32} {:>8} {:>12} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10}\n",
        "kind", "threads", "objects", "loop ms", "total ms", "Mobj/s", "gps", "obj/gp", "peak MiB"
    );
    for r in reports {
        out.push_str(&format!(
            "{:<32} {:>8} {:>12} {:>10.1} {:>10.1} {:>10.2} {:>12} {:>12} {:>10}",
            r.kind,
            r.threads,
            r.objects,
            r.loop_time.as_secs_f64() * 1e3,
            r.total_time.as_secs_f64() * 1e3,
            r.objects_per_sec() / 1e6,
            r.grace_periods.map_or("-".into(), |g| g.to_string()),
            r.objects_per_gp().map_or("-".into(), |o| format!("{o:.0}")),
            r.peak_rss_kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        ));
        if let Some(b) = base {
            out.push_str(&format!(
                "   x{:.2} throughput, x{} peak RSS vs {}",
                r.objects_per_sec() / b.objects_per_sec(),
                match (r.peak_rss_kib, b.peak_rss_kib) {
                    (Some(a), Some(b)) => format!("{:.2}", a as f64 / b as f64),
                    _ => "-".into(),
                },
                b.kind
            ));
        }
        out.push('\n');
    }
    out
}

/// The flood workload of `compare`: every kind, each in a child process.
#[derive(Clone, Copy, Debug)]
pub struct Flood(pub FloodConfig);

const METRICS: &[Metric] = &[Metric::FloodObjectsPerSec, Metric::FloodPeakRssKib];

impl Workload for Flood {
    fn section(&self) -> Section {
        Section { title: "flood", metrics: METRICS }
    }

    fn round(&self, round: Round, results: &mut Results, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
        for kind in round.order(FloodKind::all()) {
            let r = run_flood_in_child(kind, &self.0)?;
            results.add(&r.kind, Metric::FloodObjectsPerSec, r.objects_per_sec());
            if let Some(kib) = r.peak_rss_kib {
                results.add(&r.kind, Metric::FloodPeakRssKib, kib as f64);
            }
            progress(&format!(
                "{} flood {:<32} {:8.2} Mobj/s peak {} KiB",
                round.label(),
                r.kind,
                r.objects_per_sec() / 1e6,
                r.peak_rss_kib.map_or("-".into(), |k| k.to_string())
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_round_trip() {
        let r = FloodReport {
            kind: "crossbeam-epoch-defer_destroy".into(),
            threads: 2,
            objects: 2000,
            loop_time: Duration::from_nanos(12345),
            total_time: Duration::from_nanos(23456),
            grace_periods: None,
            peak_rss_kib: Some(4096),
            base_rss_kib: Some(1024),
        };
        assert_eq!(FloodReport::parse_line(&r.to_line()).unwrap(), r);
    }

    #[test]
    fn every_kind_name_parses_back_to_the_kind() {
        for k in FloodKind::all() {
            assert_eq!(FloodKind::from_name(&k.name()).unwrap(), k);
        }
        assert!(FloodKind::from_name("no-such-kind").is_err());
    }

    /// Objects freed so far by the flavour of `kind` (`rcu-memb` or
    /// `rcu-qsbr`), through kvfree_rcu or callbacks.
    fn freed(kind: FloodKind) -> u64 {
        let stats = match kind.implementation().map(|i| i.name()) {
            Some("rcu-memb") => rcu_memb::stats(),
            _ => rcu_qsbr::stats(),
        };
        if kind.name().ends_with("kvfree_rcu") {
            stats.kvfree_objects_freed
        } else {
            stats.callbacks_invoked
        }
    }

    #[test]
    fn our_floods_free_every_object_before_reporting() {
        for imp in ["rcu-memb", "rcu-qsbr"].map(Implementation::named) {
            for way in 0..imp.flood_ways().len() {
                let kind = FloodKind::Peer { imp, way };
                let before = freed(kind);
                let r = run_flood_here(kind, &FloodConfig { threads: 2, objects_per_thread: 10_000, pin: false });
                // Other tests in this process may free objects too, hence
                // at least: the drain must have freed all of this flood's.
                assert!(freed(kind) - before >= r.objects, "{}: not every object freed by the drain", r.kind);
                assert!(r.grace_periods.is_some_and(|g| g > 0), "{}: no grace period counted", r.kind);
            }
        }
    }

    #[test]
    fn in_process_floods_retire_every_object() {
        for kind in [FloodKind::Plain, FloodKind::from_name("crossbeam-epoch-defer_destroy").unwrap()] {
            let r = run_flood_here(kind, &FloodConfig { threads: 2, objects_per_thread: 10_000, pin: false });
            assert_eq!(r.objects, 20_000);
            assert!(r.total_time >= r.loop_time);
        }
    }
}
