//! `rcu-bench kvfree-flood`: issue 30's flood shape.
//!
//! Each thread boxes `objects` 32-byte [`Counted`] objects and hands each
//! at once to `kvfree_rcu` of one flavour (memb, qsbr, srcu), then the main
//! thread calls `rcu_barrier`; the plain kind drops each box at once
//! instead, on the same threads. Every `Drop` is counted, and the count is
//! checked to equal the objects created once the flood is over, so a kind
//! cannot look fast by leaving objects unfreed. With `latency`, each
//! `kvfree_rcu` call (the plain kind: each drop) is timed into a
//! preallocated per-thread [`Histogram`].
//!
//! Producer threads are named `flood-<k>`, so that a profile
//! (`scripts/reclaim-profile.sh`) tells them from the flavour's reclaim
//! thread. Each kind runs in a child process of its own for a clean peak
//! RSS, as in [`crate::flood`]; the child prints one `KVFREE_FLOOD` line.

use crate::hist::Histogram;
use crate::pin::CpuPlan;
use rcu_core::RcuFlavour;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Producer threads a flood may have: one drop counter each.
pub const MAX_THREADS: usize = 64;

/// One drop counter on a cache line of its own, so that producers that
/// free their own objects do not share a line.
#[repr(align(128))]
struct Slot(AtomicU64);

static DROPPED: [Slot; MAX_THREADS] = [const { Slot(AtomicU64::new(0)) }; MAX_THREADS];

/// A 32-byte flood object whose drop is counted on its creator's slot.
pub struct Counted {
    slot: u64,
    _payload: [u64; 3],
}

impl Counted {
    /// A boxed object created by producer `slot`.
    #[inline]
    fn boxed(slot: usize) -> Box<Self> {
        Box::new(Counted { slot: slot as u64, _payload: [slot as u64; 3] })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // Relaxed: a count only; it is read after rcu_barrier or the
        // producers' join, which order every drop before the load in
        // `dropped`.
        DROPPED[self.slot as usize].0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Objects dropped so far, all slots.
fn dropped() -> u64 {
    // Relaxed: pairs with the Relaxed increments in `Counted::drop`; the
    // caller's rcu_barrier or join provides the happens-before edge.
    DROPPED.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
}

/// A way of disposing of each object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `drop` at once on the producer: the floor.
    Plain,
    /// `kvfree_rcu` of rcu-memb.
    Memb,
    /// `kvfree_rcu` of rcu-qsbr.
    Qsbr,
    /// `kvfree_rcu` of rcu-srcu's default domain.
    Srcu,
}

impl Kind {
    /// Every kind, the plain loop first.
    pub const ALL: [Kind; 4] = [Kind::Plain, Kind::Memb, Kind::Qsbr, Kind::Srcu];

    /// The name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Memb => "memb",
            Kind::Qsbr => "qsbr",
            Kind::Srcu => "srcu",
        }
    }

    /// Parses [`Kind::name`].
    pub fn from_name(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("unknown kvfree-flood kind `{name}`; known: plain, memb, qsbr, srcu"))
    }
}

/// A flood's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Producer threads (at most [`MAX_THREADS`]).
    pub threads: usize,
    /// Objects each producer creates.
    pub objects_per_thread: u64,
    /// Time each call into a histogram.
    pub latency: bool,
    /// Pin producers round robin to CPUs.
    pub pin: bool,
}

/// What one flood measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The kind's name.
    pub kind: String,
    /// Producer threads.
    pub threads: usize,
    /// Objects created (and, checked, dropped), all threads.
    pub objects: u64,
    /// From the start line to the last producer's last call.
    pub loop_time: Duration,
    /// Loop plus `rcu_barrier`.
    pub total_time: Duration,
    /// Peak resident set of the process, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Per-call latency quantiles (p50, p99, p99.9, max), ns, with latency.
    pub latency_ns: Option<[u64; 4]>,
    /// Objects dropped by the producer that retired them (the flavour's
    /// `kvfree_objects_freed_by_owner`; none for the plain loop, or from a
    /// revision that did not count them).
    pub freed_by_owner: Option<u64>,
}

/// One producer: `n` objects created and disposed of, each call timed when
/// `hist` is given.
fn produce<D: Fn(Box<Counted>)>(slot: usize, n: u64, dispose: D, mut hist: Option<&mut Histogram>) {
    for _ in 0..n {
        let object = black_box(Counted::boxed(slot));
        match hist.as_deref_mut() {
            Some(h) => {
                let t = Instant::now();
                dispose(object);
                h.record_duration(t.elapsed());
            }
            None => dispose(object),
        }
    }
}

fn produce_kind(kind: Kind, slot: usize, n: u64, hist: Option<&mut Histogram>) {
    match kind {
        Kind::Plain => produce(slot, n, drop, hist),
        Kind::Memb => produce(slot, n, rcu_memb::Memb::kvfree_rcu, hist),
        Kind::Qsbr => produce(slot, n, rcu_qsbr::Qsbr::kvfree_rcu, hist),
        Kind::Srcu => produce(slot, n, rcu_srcu::Srcu::kvfree_rcu, hist),
    }
}

/// The flavour's count of objects dropped by their retiring thread.
fn freed_by_owner(kind: Kind) -> Option<u64> {
    match kind {
        Kind::Plain => None,
        Kind::Memb => Some(rcu_memb::Memb::stats().kvfree_objects_freed_by_owner),
        Kind::Qsbr => Some(rcu_qsbr::Qsbr::stats().kvfree_objects_freed_by_owner),
        Kind::Srcu => Some(rcu_srcu::Srcu::stats().kvfree_objects_freed_by_owner),
    }
}

fn barrier(kind: Kind) {
    match kind {
        Kind::Plain => {}
        Kind::Memb => rcu_memb::Memb::rcu_barrier(),
        Kind::Qsbr => rcu_qsbr::Qsbr::rcu_barrier(),
        Kind::Srcu => rcu_srcu::Srcu::rcu_barrier(),
    }
}

/// Runs the producers; returns the start instant, the loop time and the
/// merged histogram.
fn run_producers(kind: Kind, config: &Config) -> (Instant, Duration, Histogram) {
    let plan = CpuPlan::new(config.pin);
    let start_line = Barrier::new(config.threads + 1);
    std::thread::scope(|s| {
        let producers: Vec<_> = (0..config.threads)
            .map(|k| {
                let (plan, start_line) = (&plan, &start_line);
                std::thread::Builder::new()
                    .name(format!("flood-{k}"))
                    .spawn_scoped(s, move || {
                        plan.pin(k);
                        // Preallocated before the start line.
                        let mut hist = config.latency.then(Histogram::new);
                        start_line.wait();
                        produce_kind(kind, k, config.objects_per_thread, hist.as_mut());
                        hist
                    })
                    .expect("cannot spawn a flood producer")
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        let mut merged = Histogram::new();
        for p in producers {
            if let Some(h) = p.join().expect("flood producer panicked") {
                merged.merge(&h);
            }
        }
        (start, start.elapsed(), merged)
    })
}

/// Runs one flood in this process and checks every object was dropped.
/// Peak RSS is this process's, so call it in a fresh process for a clean
/// figure ([`run_in_child`]).
pub fn run_here(kind: Kind, config: &Config) -> Result<Report, String> {
    if config.threads == 0 || config.threads > MAX_THREADS {
        return Err(format!("--threads must be 1..={MAX_THREADS}"));
    }
    let dropped_before = dropped();
    let by_owner_before = freed_by_owner(kind);
    let (start, loop_time, hist) = run_producers(kind, config);
    barrier(kind);
    let total_time = start.elapsed();
    let objects = config.threads as u64 * config.objects_per_thread;
    let freed = dropped() - dropped_before;
    if freed != objects {
        return Err(format!("{}: {freed} of {objects} objects dropped after the barrier", kind.name()));
    }
    let q = |q: f64| hist.quantile(q).unwrap_or(0);
    Ok(Report {
        kind: kind.name().to_string(),
        threads: config.threads,
        objects,
        loop_time,
        total_time,
        peak_rss_kib: crate::rss::peak_rss_kib(),
        latency_ns: config.latency.then(|| [q(0.5), q(0.99), q(0.999), hist.max().unwrap_or(0)]),
        freed_by_owner: freed_by_owner(kind).zip(by_owner_before).map(|(a, b)| a - b),
    })
}

impl Report {
    /// Objects per second, loop plus barrier.
    pub fn objects_per_sec(&self) -> f64 {
        self.objects as f64 / self.total_time.as_secs_f64()
    }

    /// The child's one-line report.
    pub fn to_line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let lat = |i: usize| opt(self.latency_ns.map(|l| l[i]));
        format!(
            "KVFREE_FLOOD kind={} threads={} objects={} loop_ns={} total_ns={} peak_rss_kib={} \
             p50_ns={} p99_ns={} p999_ns={} max_ns={} by_owner={}",
            self.kind,
            self.threads,
            self.objects,
            self.loop_time.as_nanos(),
            self.total_time.as_nanos(),
            opt(self.peak_rss_kib),
            lat(0),
            lat(1),
            lat(2),
            lat(3),
            opt(self.freed_by_owner)
        )
    }

    /// Parses [`Report::to_line`]'s output.
    pub fn parse_line(line: &str) -> Result<Self, String> {
        let rest = line.strip_prefix("KVFREE_FLOOD ").ok_or_else(|| format!("not a KVFREE_FLOOD line: {line}"))?;
        let field = |key: &str| -> Result<&str, String> {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("KVFREE_FLOOD line without {key}: {line}"))
        };
        let opt = |key: &str| -> Result<Option<u64>, String> {
            match field(key)? {
                "-" => Ok(None),
                v => v.parse().map(Some).map_err(|e| format!("{key}: {e}")),
            }
        };
        let num = |key: &str| -> Result<u64, String> { opt(key)?.ok_or_else(|| format!("{key} missing")) };
        // Absent from the lines of revisions before producer-side frees.
        let by_owner = if rest.contains(" by_owner=") { opt("by_owner")? } else { None };
        let lat = [opt("p50_ns")?, opt("p99_ns")?, opt("p999_ns")?, opt("max_ns")?];
        Ok(Report {
            kind: field("kind")?.to_string(),
            threads: num("threads")? as usize,
            objects: num("objects")?,
            loop_time: Duration::from_nanos(num("loop_ns")?),
            total_time: Duration::from_nanos(num("total_ns")?),
            peak_rss_kib: opt("peak_rss_kib")?,
            latency_ns: match lat {
                [Some(a), Some(b), Some(c), Some(d)] => Some([a, b, c, d]),
                _ => None,
            },
            freed_by_owner: by_owner,
        })
    }
}

/// Runs one flood in a fresh child process (`<this binary>
/// kvfree-flood-one ...`) and parses its report.
pub fn run_in_child(kind: Kind, config: &Config) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable to re-run it: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["kvfree-flood-one", "--kind", kind.name()])
        .args(["--threads", &config.threads.to_string()])
        .args(["--objects", &config.objects_per_thread.to_string()]);
    if config.latency {
        cmd.arg("--latency");
    }
    if !config.pin {
        cmd.arg("--no-pin");
    }
    let out = cmd.output().map_err(|e| format!("cannot start the kvfree-flood child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("kvfree-flood child for {} failed ({}): {stderr}", kind.name(), out.status));
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("KVFREE_FLOOD "))
        .ok_or_else(|| format!("kvfree-flood child for {} printed no KVFREE_FLOOD line", kind.name()))?;
    Report::parse_line(line)
}

/// A table of reports, with time and peak RSS divided by the plain kind's.
pub fn format_table(reports: &[Report]) -> String {
    let plain = reports.iter().find(|r| r.kind == Kind::Plain.name());
    let mut out = format!(
        "{:<6} {:>8} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}\n",
        "kind",
        "Mobj/s",
        "total ms",
        "x plain",
        "peak MiB",
        "x plain",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "max ns",
        "loop ms",
        "by owner"
    );
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".to_string(), |b| format!("{:.2}", a / b));
    for r in reports {
        let lat = |i: usize| r.latency_ns.map_or("-".to_string(), |l| l[i].to_string());
        let rss = r.peak_rss_kib.map(|k| k as f64 / 1024.0);
        out.push_str(&format!(
            "{:<6} {:>8.2} {:>10.1} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10.1} {:>9}\n",
            r.kind,
            r.objects_per_sec() / 1e6,
            r.total_time.as_secs_f64() * 1e3,
            ratio(r.total_time.as_secs_f64(), plain.map(|p| p.total_time.as_secs_f64())),
            rss.map_or("-".to_string(), |m| format!("{m:.1}")),
            match (rss, plain.and_then(|p| p.peak_rss_kib)) {
                (Some(m), Some(p)) => ratio(m, Some(p as f64 / 1024.0)),
                _ => "-".to_string(),
            },
            lat(0),
            lat(1),
            lat(2),
            lat(3),
            r.loop_time.as_secs_f64() * 1e3,
            r.freed_by_owner.map_or("-".to_string(), |n| format!("{:.0}%", n as f64 * 100.0 / r.objects.max(1) as f64)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_round_trip() {
        for (latency_ns, freed_by_owner) in [(None, None), (Some([40, 90, 2_000, 80_000]), Some(1_500))] {
            let r = Report {
                kind: "qsbr".into(),
                threads: 2,
                objects: 2000,
                loop_time: Duration::from_nanos(12_345),
                total_time: Duration::from_nanos(23_456),
                peak_rss_kib: Some(4096),
                latency_ns,
                freed_by_owner,
            };
            assert_eq!(Report::parse_line(&r.to_line()).unwrap(), r);
        }
        // A line from a revision before `by_owner` existed still parses.
        let old = "KVFREE_FLOOD kind=memb threads=2 objects=10 loop_ns=1 total_ns=2 peak_rss_kib=- \
                   p50_ns=- p99_ns=- p999_ns=- max_ns=-";
        assert_eq!(Report::parse_line(old).unwrap().freed_by_owner, None);
    }

    #[test]
    fn every_kind_drops_every_object_and_times_every_call() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.name()).unwrap(), kind);
            let config = Config { threads: 2, objects_per_thread: 5_000, latency: true, pin: false };
            let r = run_here(kind, &config).unwrap();
            assert_eq!(r.objects, 10_000);
            let [p50, p99, p999, max] = r.latency_ns.expect("latency asked for");
            assert!(p50 <= p99 && p99 <= p999 && p999 <= max, "{}: quantiles out of order", r.kind);
        }
        assert!(Kind::from_name("epoch").is_err());
    }

    #[test]
    fn too_many_threads_is_an_error() {
        let config = Config { threads: MAX_THREADS + 1, objects_per_thread: 1, latency: false, pin: false };
        assert!(run_here(Kind::Plain, &config).is_err());
    }
}
