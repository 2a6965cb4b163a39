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

use crate::implementation::Implementation;
use crate::pin::CpuPlan;
use crate::workload::Node;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// One way of retiring objects in a flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloodKind {
    /// Allocate and free at once: the floor any deferred free is held to.
    Plain,
    /// crossbeam-epoch: `pin()` then `defer_destroy` per object.
    Epoch,
    /// This workspace's `kvfree_rcu`, `call_rcu` or `call_rcu_raw`.
    Ours {
        /// `Memb` or `Qsbr`.
        flavour: Implementation,
        /// How each object is retired.
        retire: OurRetire,
    },
    /// liburcu `call_rcu` (intrusive head) or `defer_rcu` (feature `liburcu`).
    Liburcu {
        /// `LiburcuMemb` or `LiburcuQsbr`.
        flavour: Implementation,
        /// `defer_rcu` if true, else `call_rcu`.
        defer: bool,
    },
}

impl FloodKind {
    /// Every kind built into this binary.
    pub fn all() -> Vec<FloodKind> {
        let mut kinds = Vec::new();
        for flavour in [Implementation::Memb, Implementation::Qsbr] {
            for retire in OurRetire::ALL {
                kinds.push(FloodKind::Ours { flavour, retire });
            }
        }
        kinds.push(FloodKind::Epoch);
        #[cfg(feature = "liburcu")]
        for flavour in [Implementation::LiburcuMemb, Implementation::LiburcuQsbr] {
            kinds.push(FloodKind::Liburcu { flavour, defer: false });
            kinds.push(FloodKind::Liburcu { flavour, defer: true });
        }
        kinds.push(FloodKind::Plain);
        kinds
    }

    /// The name in reports and on the command line.
    pub fn name(self) -> String {
        match self {
            FloodKind::Plain => "plain-alloc-free".into(),
            FloodKind::Epoch => "crossbeam-epoch-defer_destroy".into(),
            FloodKind::Ours { flavour, retire } => format!("{}-{}", flavour.name(), retire.name()),
            FloodKind::Liburcu { flavour, defer } => {
                format!("{}-{}", flavour.name(), if defer { "defer_rcu" } else { "call_rcu" })
            }
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
                if cfg!(feature = "liburcu") { "" } else { " (liburcu kinds need the `liburcu` feature)" }
            )),
        }
    }

    /// The implementation it belongs to (None for the plain loop).
    pub fn implementation(self) -> Option<Implementation> {
        match self {
            FloodKind::Plain => None,
            FloodKind::Epoch => Some(Implementation::Epoch),
            FloodKind::Ours { flavour, .. } | FloodKind::Liburcu { flavour, .. } => Some(flavour),
        }
    }
}

/// How this workspace's flavours retire flood objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OurRetire {
    /// `kvfree_rcu(Box<Node>)`: headless, into the thread's bulk block.
    KvfreeRcu,
    /// `call_rcu(move || drop(node))`: the closure is boxed (a second
    /// allocation per object).
    CallRcu,
    /// `call_rcu_raw` on a node with an intrusive head: liburcu
    /// `call_rcu`'s shape, one allocation per object.
    CallRcuRaw,
}

impl OurRetire {
    /// Every way, in report order.
    pub const ALL: [OurRetire; 3] = [OurRetire::KvfreeRcu, OurRetire::CallRcu, OurRetire::CallRcuRaw];

    /// The suffix of the kind's name (the API's name).
    pub fn name(self) -> &'static str {
        match self {
            OurRetire::KvfreeRcu => "kvfree_rcu",
            OurRetire::CallRcu => "call_rcu",
            OurRetire::CallRcuRaw => "call_rcu_raw",
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
    match kind {
        FloodKind::Ours { flavour: Implementation::Memb, .. } => Some(rcu_memb::stats().grace_periods),
        FloodKind::Ours { flavour: Implementation::Qsbr, .. } => Some(rcu_qsbr::stats().grace_periods),
        _ => None,
    }
}

/// One thread's loop: `n` objects allocated and retired.
fn flood_thread(kind: FloodKind, n: u64) {
    match kind {
        FloodKind::Plain => {
            for _ in 0..n {
                drop(black_box(Node::new_boxed()));
            }
        }
        FloodKind::Epoch => {
            let handle = crossbeam_epoch::default_collector().register();
            for _ in 0..n {
                let guard = handle.pin();
                let node = crossbeam_epoch::Shared::from(Box::into_raw(Node::new_boxed()).cast_const());
                // SAFETY: the node was never published; destroying it after
                // the epoch advances is trivially safe.
                unsafe { guard.defer_destroy(node) };
            }
        }
        FloodKind::Ours { flavour, retire } => {
            use crate::reclaim::{call_rcu_raw_free, OurReclaim, RawNode};
            fn ours<F: OurReclaim>(n: u64, retire: OurRetire) {
                match retire {
                    OurRetire::KvfreeRcu => {
                        for _ in 0..n {
                            F::kvfree_rcu(Node::new_boxed());
                        }
                    }
                    OurRetire::CallRcu => {
                        for _ in 0..n {
                            let node = Node::new_boxed();
                            F::call_rcu(move || drop(node));
                        }
                    }
                    OurRetire::CallRcuRaw => {
                        for _ in 0..n {
                            call_rcu_raw_free::<F>(RawNode::new_boxed());
                        }
                    }
                }
            }
            if flavour == Implementation::Memb {
                ours::<rcu_memb::Memb>(n, retire)
            } else {
                ours::<rcu_qsbr::Qsbr>(n, retire)
            }
        }
        #[cfg(feature = "liburcu")]
        FloodKind::Liburcu { flavour, defer } => {
            use crate::liburcu::{call_rcu_free_node, defer_free_node, LibMemb, LibQsbr, Urcu, UrcuThread};
            fn lib<F: Urcu>(n: u64, defer: bool) {
                // Registered (call_rcu takes liburcu's read lock inside) but
                // offline, so its grace periods do not wait for this thread.
                let mut thread = UrcuThread::<F>::register();
                thread.offline();
                for _ in 0..n {
                    if defer {
                        defer_free_node::<F>(Node::new_boxed());
                    } else {
                        call_rcu_free_node(&thread, Node::new_boxed());
                    }
                }
            }
            if flavour == Implementation::LiburcuMemb {
                lib::<LibMemb>(n, defer)
            } else {
                lib::<LibQsbr>(n, defer)
            }
        }
        #[allow(unreachable_patterns)]
        other => panic!("flood kind {} is not built into this binary", other.name()),
    }
}

/// Waits until everything the flood deferred has been freed.
fn drain(kind: FloodKind) {
    match kind {
        FloodKind::Plain => {}
        FloodKind::Epoch => {
            // crossbeam-epoch has no barrier; pinning and flushing advances
            // the epoch and frees what it can.
            let handle = crossbeam_epoch::default_collector().register();
            for _ in 0..4 {
                handle.pin().flush();
            }
        }
        FloodKind::Ours { flavour, .. } => {
            if flavour == Implementation::Memb {
                rcu_memb::rcu_barrier()
            } else {
                rcu_qsbr::rcu_barrier()
            }
        }
        #[cfg(feature = "liburcu")]
        FloodKind::Liburcu { flavour, defer } => {
            use crate::liburcu::{defer_barrier, LibMemb, LibQsbr, Urcu};
            match (flavour == Implementation::LiburcuMemb, defer) {
                (true, false) => LibMemb::rcu_barrier(),
                (false, false) => LibQsbr::rcu_barrier(),
                (true, true) => defer_barrier::<LibMemb>(),
                (false, true) => defer_barrier::<LibQsbr>(),
            }
        }
        #[allow(unreachable_patterns)]
        other => panic!("flood kind {} is not built into this binary", other.name()),
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

    /// Objects freed so far by this workspace's flavour of `kind`, through
    /// kvfree_rcu or callbacks.
    fn freed(kind: FloodKind) -> u64 {
        let stats = match kind {
            FloodKind::Ours { flavour: Implementation::Memb, .. } => rcu_memb::stats(),
            _ => rcu_qsbr::stats(),
        };
        match kind {
            FloodKind::Ours { retire: OurRetire::KvfreeRcu, .. } => stats.kvfree_objects_freed,
            _ => stats.callbacks_invoked,
        }
    }

    #[test]
    fn our_floods_free_every_object_before_reporting() {
        for flavour in [Implementation::Memb, Implementation::Qsbr] {
            for retire in OurRetire::ALL {
                let kind = FloodKind::Ours { flavour, retire };
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
        for kind in [FloodKind::Plain, FloodKind::Epoch] {
            let r = run_flood_here(kind, &FloodConfig { threads: 2, objects_per_thread: 10_000, pin: false });
            assert_eq!(r.objects, 20_000);
            assert!(r.total_time >= r.loop_time);
        }
    }
}
