//! `rcu-bench run`: liburcu's `test_urcu` throughput test, for every
//! implementation.
//!
//! Readers loop over read-side sections that dereference the published
//! [`Node`] and check its value (QSBR readers announce a quiescent state
//! every 1,024 reads); writers allocate a node, publish it with an exchange,
//! and retire the old one: `sync` waits for a grace period (every `batch`
//! retirements, as `test_urcu_gc -b`) and frees, `call` queues a callback
//! (`call_rcu`, crossbeam-epoch `Guard::defer`, liburcu `call_rcu`), `kvfree`
//! queues a headless free (`kvfree_rcu`, crossbeam-epoch `defer_destroy`,
//! liburcu `defer_rcu`).
//!
//! The run has a fixed wall-clock length. Every thread publishes its count
//! after each operation on a cache line of its own; the main thread samples
//! the counts when the warm-up ends and when the measured window ends, so
//! thread start-up, registration and cold caches are not counted. Grace
//! periods completed inside the window by `sync` writers go into a
//! [`Histogram`] (median, p99, max).
//!
//! The `SUMMARY` line has liburcu's format, so the output can be put beside
//! `test_urcu`'s own; its counts are those of the measured window.

use crate::hist::Histogram;
use crate::implementations::Implementation;
use crate::peer::Retire;
pub use crate::peer::RetireMode;
use crate::pin::CpuPlan;
use crate::reader::{spin, ReaderShared};
use crate::report::text::fmt_ns;
use crate::workload::Node;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One run's parameters (`test_urcu`'s, plus the retire mode and warm-up).
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The implementation under test.
    pub imp: Implementation,
    /// Reader threads.
    pub nr_readers: usize,
    /// Writer threads.
    pub nr_writers: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// Warm-up before the window (not counted).
    pub warmup: Duration,
    /// Writer delay between updates, in busy-loop iterations (`-d`).
    pub wdelay: u64,
    /// Busy-loop iterations inside each read-side section (`-c`).
    pub read_cs_len: u64,
    /// Busy-loop iterations between publish and retire (`-e`).
    pub write_cs_len: u64,
    /// Retirements per grace period in `sync` mode (`-b`).
    pub batch: usize,
    /// How writers retire.
    pub mode: RetireMode,
    /// Pin threads (readers first, then writers) round robin to CPUs.
    pub pin: bool,
}

impl RunConfig {
    /// A config with test_urcu's defaults for the options.
    pub fn new(imp: Implementation, nr_readers: usize, nr_writers: usize, duration: Duration) -> Self {
        RunConfig {
            imp,
            nr_readers,
            nr_writers,
            duration,
            warmup: default_warmup(duration),
            wdelay: 0,
            read_cs_len: 0,
            write_cs_len: 0,
            batch: 1,
            mode: RetireMode::Sync,
            pin: true,
        }
    }

    /// Checks that the implementation supports the mode; the error names
    /// the misuse and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch == 0 {
            return Err("-b BATCH must be at least 1".into());
        }
        if self.batch > 1 && self.mode != RetireMode::Sync {
            return Err(format!("-b BATCH batches grace periods of -m sync; -m {} has no batch", self.mode.name()));
        }
        if !self.imp.has_synchronize() && self.mode == RetireMode::Sync {
            return Err(format!(
                "{} has no synchronize_rcu; use -m call (Guard::defer) or -m kvfree (Guard::defer_destroy)",
                self.imp
            ));
        }
        Ok(())
    }
}

/// 10% of the measured window, at most one second.
pub fn default_warmup(duration: Duration) -> Duration {
    (duration / 10).min(Duration::from_secs(1))
}

/// What a run measured (counts are those of the measured window).
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The run's parameters.
    pub config: RunConfig,
    /// Exact length of the measured window.
    pub measured: Duration,
    /// Reads completed in the window, per reader.
    pub reads_per_reader: Vec<u64>,
    /// Writes (updates) completed in the window, per writer.
    pub writes_per_writer: Vec<u64>,
    /// Latency of each grace period waited for in the window (`sync`).
    pub gp_latency: Histogram,
    /// Grace periods the implementation completed in the window, where it
    /// counts them (this workspace's flavours).
    pub grace_periods: Option<u64>,
    /// Largest callback backlog of the flavour so far in this process
    /// (this workspace's flavours in `-m call|kvfree`).
    pub peak_callback_backlog: Option<u64>,
    /// Nodes readers saw holding another value than the live one (over the
    /// whole run; nonzero means a node was freed too early).
    pub mismatches: u64,
    /// CPU of each reader, then each writer (None: not pinned).
    pub cpus: Vec<Option<usize>>,
}

impl RunReport {
    /// Reads in the window, all readers.
    pub fn reads(&self) -> u64 {
        self.reads_per_reader.iter().sum()
    }

    /// Writes in the window, all writers.
    pub fn writes(&self) -> u64 {
        self.writes_per_writer.iter().sum()
    }

    /// Reads per second.
    pub fn reads_per_sec(&self) -> f64 {
        self.reads() as f64 / self.measured.as_secs_f64()
    }

    /// Writes per second.
    pub fn writes_per_sec(&self) -> f64 {
        self.writes() as f64 / self.measured.as_secs_f64()
    }

    /// liburcu's `SUMMARY` line.
    pub fn summary_line(&self) -> String {
        let c = &self.config;
        let secs = self.config.duration.as_secs_f64();
        let testdur = if secs.fract() == 0.0 { format!("{:4}", secs as u64) } else { format!("{secs:4.3}") };
        let name = format!("rcu-bench/{}/{}", c.imp.name(), c.mode.name());
        let mut line = format!(
            "SUMMARY {name:<25} testdur {testdur} nr_readers {:3} rdur {:6} wdur {:6} nr_writers {:3} \
             wdelay {:6} nr_reads {:12} nr_writes {:12} nr_ops {:12}",
            c.nr_readers,
            c.read_cs_len,
            c.write_cs_len,
            c.nr_writers,
            c.wdelay,
            self.reads(),
            self.writes(),
            self.reads() + self.writes()
        );
        if c.batch > 1 {
            line.push_str(&format!(" batch {}", c.batch));
        }
        line
    }

    /// The lines printed after the SUMMARY line.
    pub fn details(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        out.push_str(&format!(
            "window {:.3} s after {:.3} s warm-up; reads/s {:.4e} ({} readers), writes/s {:.4e} ({} writers, -m {})\n",
            self.measured.as_secs_f64(),
            c.warmup.as_secs_f64(),
            self.reads_per_sec(),
            c.nr_readers,
            self.writes_per_sec(),
            c.nr_writers,
            c.mode.name()
        ));
        out.push_str(&format!("reads per reader: {:?}\n", self.reads_per_reader));
        match (self.gp_latency.quantile(0.5), self.gp_latency.quantile(0.99), self.gp_latency.max()) {
            (Some(p50), Some(p99), Some(max)) => out.push_str(&format!(
                "grace-period latency (synchronize_rcu as the writer saw it): n {} median {} p99 {} max {}\n",
                self.gp_latency.count(),
                fmt_ns(p50),
                fmt_ns(p99),
                fmt_ns(max)
            )),
            _ => out.push_str("grace-period latency: none measured (writers did not wait for grace periods)\n"),
        }
        if let Some(gps) = self.grace_periods {
            let per_gp = if gps > 0 { format!("{:.1}", self.writes() as f64 / gps as f64) } else { "-".into() };
            out.push_str(&format!("grace periods completed: {gps} ({per_gp} writes per grace period)\n"));
        }
        if let Some(peak) = self.peak_callback_backlog {
            out.push_str(&format!("peak pending callbacks (process so far): {peak}\n"));
        }
        out.push_str(&format!(
            "early-free check: {} mismatches{}\n",
            self.mismatches,
            if self.mismatches == 0 { "" } else { "  <-- a reader saw a freed node" }
        ));
        let cpus: Vec<String> = self.cpus.iter().map(|c| c.map_or("-".into(), |c| c.to_string())).collect();
        out.push_str(&format!(
            "cpus (readers, then writers): [{}]{}\n",
            cpus.join(" "),
            if c.pin { "" } else { " (not pinned)" }
        ));
        out
    }
}

/// A node unpublished by a writer and not yet freed.
struct Retired(*mut Node);

/// How one writer thread retires nodes.
enum Retirer {
    /// Wait for a grace period every `batch` nodes, then free them.
    Sync { imp: Implementation, pending: Vec<Retired>, batch: usize },
    /// The implementation's deferred free (`-m call`, `-m kvfree`).
    Deferred(Box<dyn Retire>),
}

impl Retirer {
    /// The retirer for a validated config, created on the writer thread
    /// (some registrations are per thread).
    fn new(config: &RunConfig) -> Retirer {
        match config.mode {
            RetireMode::Sync => {
                Retirer::Sync { imp: config.imp, pending: Vec::with_capacity(config.batch), batch: config.batch }
            }
            mode => Retirer::Deferred(config.imp.retirer(mode)),
        }
    }

    /// Retires `node`; records the grace-period latency if it waited for
    /// one and `measuring`.
    fn retire(&mut self, node: Retired, hist: &mut Histogram, measuring: bool) {
        match self {
            Retirer::Sync { imp, pending, batch } => {
                pending.push(node);
                if pending.len() >= *batch {
                    let start = Instant::now();
                    imp.synchronize();
                    if measuring {
                        hist.record_duration(start.elapsed());
                    }
                    pending.drain(..).for_each(Retired::free);
                }
            }
            // SAFETY: `node.0` came from Box::into_raw, was unpublished by
            // this writer's exchange and is owned by this writer alone; the
            // retirer defers its drop past a grace period.
            Retirer::Deferred(retirer) => retirer.retire(unsafe { Box::from_raw(node.0) }),
        }
    }

    /// Frees what is still pending (a last grace period for `sync`).
    fn finish(&mut self) {
        if let Retirer::Sync { imp, pending, .. } = self {
            if !pending.is_empty() {
                imp.synchronize();
                pending.drain(..).for_each(Retired::free);
            }
        }
    }
}

impl Retired {
    /// Frees the node once a grace period has passed since it was
    /// unpublished.
    fn free(self) {
        // SAFETY: from Box::into_raw, unpublished by this writer's exchange,
        // owned by this writer alone, and (the caller's precondition) past
        // a grace period.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

fn writer_loop(config: &RunConfig, shared: &ReaderShared, measuring: &AtomicBool, progress: &AtomicU64) -> Histogram {
    let mut retirer = Retirer::new(config);
    let mut hist = Histogram::new();
    let mut writes: u64 = 0;
    loop {
        let new = Box::into_raw(Node::new_boxed());
        // AcqRel: Release publishes the new node's contents to the readers'
        // Acquire load (rcu_assign_pointer); Acquire orders the old node's
        // contents (written by the writer that published it) before this
        // writer frees it.
        let old = shared.slot.swap(new, Ordering::AcqRel);
        if config.write_cs_len != 0 {
            spin(config.write_cs_len);
        }
        // Relaxed: a phase flag; a grace period recorded just outside the
        // window is harmless.
        retirer.retire(Retired(old), &mut hist, measuring.load(Ordering::Relaxed));
        writes += 1;
        // Relaxed: a statistic for the sampler.
        progress.store(writes, Ordering::Relaxed);
        // Relaxed: a stop flag; the join orders the rest.
        if shared.stop.load(Ordering::Relaxed) != 0 {
            break;
        }
        if config.wdelay != 0 {
            spin(config.wdelay);
        }
    }
    retirer.finish();
    hist
}

fn snapshot(counters: &[CachePadded<AtomicU64>]) -> Vec<u64> {
    // Relaxed: statistics; a count one operation off is within the noise.
    counters.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

/// Runs one `test_urcu`-style test. The config must be valid
/// ([`RunConfig::validate`]).
pub fn run(config: &RunConfig) -> Result<RunReport, String> {
    config.validate()?;
    let plan = CpuPlan::new(config.pin);
    let shared = ReaderShared::new();
    let measuring = AtomicBool::new(false);
    let reader_progress: Vec<CachePadded<AtomicU64>> =
        (0..config.nr_readers).map(|_| CachePadded::new(AtomicU64::new(0))).collect();
    let writer_progress: Vec<CachePadded<AtomicU64>> =
        (0..config.nr_writers).map(|_| CachePadded::new(AtomicU64::new(0))).collect();

    let (window, reads, writes, gps, reader_results, hists) = std::thread::scope(|s| {
        let readers: Vec<_> = (0..config.nr_readers)
            .map(|k| {
                let (shared, progress, plan) = (&shared, &*reader_progress[k], &plan);
                s.spawn(move || {
                    plan.pin(k);
                    config.imp.run_reader(shared, progress, config.read_cs_len)
                })
            })
            .collect();
        let writers: Vec<_> = (0..config.nr_writers)
            .map(|j| {
                let (shared, progress, plan, measuring) = (&shared, &*writer_progress[j], &plan, &measuring);
                s.spawn(move || {
                    plan.pin(config.nr_readers + j);
                    writer_loop(config, shared, measuring, progress)
                })
            })
            .collect();

        std::thread::sleep(config.warmup);
        let (r0, w0, g0) = (snapshot(&reader_progress), snapshot(&writer_progress), config.imp.grace_periods());
        // Relaxed: pairs with the writers' load in `writer_loop`; a phase
        // flag, so a grace period recorded just outside the window is
        // harmless.
        measuring.store(true, Ordering::Relaxed);
        let start = Instant::now();
        std::thread::sleep(config.duration);
        let (r1, w1, g1) = (snapshot(&reader_progress), snapshot(&writer_progress), config.imp.grace_periods());
        let window = start.elapsed();
        // Relaxed: as the store above.
        measuring.store(false, Ordering::Relaxed);
        // Relaxed: see reader_loop; the joins below order the results.
        shared.stop.store(1, Ordering::Relaxed);
        let reader_results: Vec<(u64, u64)> = readers.into_iter().map(|t| t.join().expect("reader panicked")).collect();
        let hists: Vec<Histogram> = writers.into_iter().map(|t| t.join().expect("writer panicked")).collect();
        let reads = r1.iter().zip(&r0).map(|(a, b)| a - b).collect::<Vec<_>>();
        let writes = w1.iter().zip(&w0).map(|(a, b)| a - b).collect::<Vec<_>>();
        let gps = g0.zip(g1).map(|(a, b)| b - a);
        (window, reads, writes, gps, reader_results, hists)
    });
    let peak_callback_backlog = match config.mode {
        RetireMode::Sync => None,
        mode => {
            let peak = config.imp.peak_callback_backlog();
            config.imp.drain(mode);
            peak
        }
    };

    let mut gp_latency = Histogram::new();
    hists.iter().for_each(|h| gp_latency.merge(h));
    let cpus = (0..config.nr_readers + config.nr_writers).map(|k| plan.cpu_for(k)).collect();
    Ok(RunReport {
        config: config.clone(),
        measured: window,
        reads_per_reader: reads,
        writes_per_writer: writes,
        gp_latency,
        grace_periods: gps,
        peak_callback_backlog,
        mismatches: reader_results.iter().map(|r| r.1).sum(),
        cpus,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short run, unpinned and long enough that every thread gets CPU
    /// time on a loaded 2-core CI machine (these tests check that the
    /// harness counts and verifies, not how fast anything is).
    fn short(imp: Implementation, mode: RetireMode) -> RunConfig {
        let mut c = RunConfig::new(imp, 2, 1, Duration::from_millis(300));
        c.warmup = Duration::from_millis(50);
        c.pin = false;
        c.mode = mode;
        c
    }

    #[test]
    fn a_sync_run_counts_reads_writes_and_grace_periods_without_mismatches() {
        for imp in [Implementation::named("rcu-memb"), Implementation::named("rcu-qsbr")] {
            let report = run(&short(imp, RetireMode::Sync)).unwrap();
            assert!(report.reads() > 0 && report.writes() > 0, "{imp}: {report:?}");
            assert_eq!(report.mismatches, 0, "{imp}");
            assert!(report.gp_latency.count() > 0, "{imp}");
            assert!(report.grace_periods.unwrap() > 0, "{imp}");
            assert!(report.summary_line().starts_with("SUMMARY rcu-bench/"), "{}", report.summary_line());
        }
    }

    #[test]
    fn a_batched_run_waits_once_per_batch() {
        let mut c = short(Implementation::named("rcu-memb"), RetireMode::Sync);
        c.batch = 8;
        c.nr_readers = 1;
        let report = run(&c).unwrap();
        // Each recorded grace period served 8 writes. The window's write
        // counts and the writer's `measuring` flag are not switched at one
        // instant (a Relaxed flag, a sampler that may be preempted between
        // the two), so a few batches at each edge may be counted on one
        // side only: 1% slack. Waiting per write would be 8 times off.
        let expected = report.writes() / 8;
        let slack = 2 + expected / 100;
        assert!(report.gp_latency.count().abs_diff(expected) <= slack, "{} vs {expected}", report.gp_latency.count());
        assert!(report.summary_line().ends_with("batch 8"));
    }

    #[test]
    fn crossbeam_epoch_runs_with_deferred_frees() {
        for mode in [RetireMode::Call, RetireMode::Kvfree] {
            let report = run(&short(Implementation::named("crossbeam-epoch"), mode)).unwrap();
            assert!(report.writes() > 0);
            assert_eq!(report.mismatches, 0);
            assert_eq!(report.gp_latency.count(), 0);
        }
    }

    #[test]
    fn call_rcu_runs_free_every_node_and_report_the_backlog() {
        for imp in [Implementation::named("rcu-memb"), Implementation::named("rcu-qsbr")] {
            let report = run(&short(imp, RetireMode::Call)).unwrap();
            assert!(report.writes() > 0, "{imp}");
            assert_eq!(report.mismatches, 0, "{imp}");
            assert!(report.peak_callback_backlog.unwrap() > 0, "{imp}");
        }
    }

    #[test]
    fn unsupported_combinations_are_refused_with_the_fix() {
        let err = short(Implementation::named("crossbeam-epoch"), RetireMode::Sync).validate().unwrap_err();
        assert!(err.contains("-m call"), "{err}");
        let mut c = short(Implementation::named("rcu-memb"), RetireMode::Sync);
        c.batch = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn summary_line_has_test_urcus_fields_in_order() {
        let mut report = run(&short(Implementation::named("rcu-qsbr"), RetireMode::Sync)).unwrap();
        report.config.duration = Duration::from_secs(10);
        let line = report.summary_line();
        let fields: Vec<&str> = line.split_whitespace().step_by(2).collect();
        assert_eq!(
            fields,
            [
                "SUMMARY",
                "testdur",
                "nr_readers",
                "rdur",
                "wdur",
                "nr_writers",
                "wdelay",
                "nr_reads",
                "nr_writes",
                "nr_ops"
            ]
        );
        assert!(line.contains("testdur   10 "), "{line}");
    }
}
