//! The suite workload of `compare`, per implementation:
//!
//! * **read pair**: the criterion `read_pair` loop ([`Peer::read_pair`]) on
//!   a fresh pinned thread, timed in chunks for a fixed time after a
//!   warm-up; nanoseconds per section.
//! * **2 readers + 1 writer**: `rcu-bench run IMPL 2 1` (`-m sync`, or
//!   `-m call` where there is no synchronize); reads per second, writes
//!   (= grace periods waited for) per second, and the median and p99
//!   grace-period latency the writer saw.
//!
//! [`Peer::read_pair`]: crate::peer::Peer::read_pair

use crate::implementations::Implementation;
use crate::peer::TimedLoop;
use crate::pin::CpuPlan;
use crate::report::{Metric, Results, Round, Section, Workload};
use crate::run::{run, RetireMode, RunConfig, RunReport};
use std::time::{Duration, Instant};

/// The suite's sizes.
#[derive(Clone, Debug)]
pub struct Suite {
    /// Implementations to measure.
    pub implementations: Vec<Implementation>,
    /// Length of each read-pair measurement.
    pub read_time: Duration,
    /// Measured window of each 2-reader + 1-writer run.
    pub run_time: Duration,
    /// Warm-up before each measurement.
    pub warmup: Duration,
    /// Pin threads to CPUs.
    pub pin: bool,
}

const METRICS: &[Metric] =
    &[Metric::ReadPairNs, Metric::ReadsPerSec, Metric::WritesPerSec, Metric::GpMedianNs, Metric::GpP99Ns];

/// Sections per timed chunk: long enough that reading the clock is noise.
const CHUNK: u64 = 1 << 16;

/// Runs `timed(CHUNK)` for `warmup` (not counted), then until `time` has
/// been spent in it; returns ns per iteration.
fn ns_per_iteration(warmup: Duration, time: Duration, timed: &mut TimedLoop<'_>) -> f64 {
    let start = Instant::now();
    while start.elapsed() < warmup {
        timed(CHUNK);
    }
    let (mut spent, mut iters) = (Duration::ZERO, 0u64);
    while spent < time {
        spent += timed(CHUNK);
        iters += CHUNK;
    }
    spent.as_nanos() as f64 / iters as f64
}

impl Suite {
    /// ns per read pair on a fresh (pinned) thread.
    pub fn read_pair_ns(&self, imp: Implementation) -> f64 {
        let (pin, warmup, read_time) = (self.pin, self.warmup, self.read_time);
        std::thread::spawn(move || {
            CpuPlan::new(pin).pin(0);
            let mut ns = f64::NAN;
            imp.read_pair(&mut |timed| ns = ns_per_iteration(warmup, read_time, timed));
            ns
        })
        .join()
        .expect("read-pair thread panicked")
    }

    /// The 2-reader + 1-writer run for `imp`.
    fn run_2r1w(&self, imp: Implementation) -> Result<RunReport, String> {
        let mut rc = RunConfig::new(imp, 2, 1, self.run_time);
        rc.warmup = self.warmup;
        rc.pin = self.pin;
        rc.mode = if imp.has_synchronize() { RetireMode::Sync } else { RetireMode::Call };
        run(&rc)
    }
}

impl Workload for Suite {
    fn section(&self) -> Section {
        Section { title: "suite", metrics: METRICS }
    }

    fn note(&self) -> Option<String> {
        let without: Vec<&str> =
            self.implementations.iter().filter(|i| !i.has_synchronize()).map(|i| i.name()).collect();
        (!without.is_empty()).then(|| {
            format!(
                "{} has no synchronize_rcu: its writer retires with Guard::defer (-m call), \
                 so its writes/s is not a grace-period rate and it has no grace-period latency",
                without.join(", ")
            )
        })
    }

    fn round(&self, round: Round, results: &mut Results, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
        for imp in round.order(self.implementations.clone()) {
            let ns = self.read_pair_ns(imp);
            results.add(imp.name(), Metric::ReadPairNs, ns);
            let report = self.run_2r1w(imp)?;
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
                "{} {:<16} read pair {:7.2} ns  2r1w reads/s {:.3e} writes/s {:.3e}",
                round.label(),
                imp.name(),
                ns,
                report.reads_per_sec(),
                report.writes_per_sec()
            ));
        }
        Ok(())
    }
}
