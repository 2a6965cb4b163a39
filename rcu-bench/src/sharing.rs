//! `rcu-bench sharing`: concurrent `synchronize_rcu` callers, and how many
//! grace periods they share.
//!
//! W writer threads (default 4) each call `synchronize_rcu` a fixed number
//! of times, all released at once by a barrier; optionally with busy
//! readers (test_urcu's reader loop, QSBR announcing a quiescent state
//! every 1,024 reads). Figures: calls per second over all writers (first
//! release to last return), and grace periods actually run per call:
//!
//! * this workspace: `stats()`'s grace periods minus the calls the
//!   no-reader fast path answered (those run none);
//! * liburcu QSBR: the advance of `urcu_qsbr_gp.ctr` (the shim reads it);
//! * liburcu memb, whose counter only flips: `membarrier` system calls
//!   counted by the kernel (a `perf` tracepoint counter on this process's
//!   new threads), two per grace period. Where the counter cannot be opened
//!   (no tracefs, `perf_event_paranoid`), the figure is absent.
//!
//! Also here: [`BusyReaders`], the readers kept busy during grace-period
//! measurements (here and in the `grace_period` bench), and the
//! [`Sharing`] workload of `compare` (these rows plus 1 reader + 1 writer).
//!
//! Also for this workspace's memb, the membarrier count cross-checks the
//! stats (two per grace period, none on the fast path).

use crate::implementations::Implementation;
use crate::pin::CpuPlan;
use crate::reader::ReaderShared;
use crate::report::{Metric, Results, Round, Section, Workload};
use crate::run::{run, RunConfig};
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// One run's sizes.
#[derive(Clone, Debug)]
pub struct SharingConfig {
    /// Threads calling `synchronize_rcu`.
    pub writers: usize,
    /// Calls per writer.
    pub calls_per_writer: u64,
    /// Busy reader threads (0: none registered).
    pub busy_readers: usize,
    /// Pin threads to CPUs (readers first, then writers).
    pub pin: bool,
}

/// What one run measured.
#[derive(Debug)]
pub struct SharingReport {
    /// The implementation.
    pub implementation: Implementation,
    /// Calls made, all writers.
    pub calls: u64,
    /// First release to last return.
    pub elapsed: Duration,
    /// Grace periods run during the calls, where known.
    pub grace_periods: Option<u64>,
    /// `membarrier` system calls made by the writers, where countable.
    pub membarriers: Option<u64>,
}

impl SharingReport {
    /// Calls per second, all writers.
    pub fn calls_per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// Grace periods per call (liburcu memb: from its membarriers).
    pub fn gps_per_call(&self) -> Option<f64> {
        let gps = self
            .grace_periods
            .or_else(|| self.implementation.gps_from_membarriers().then_some(self.membarriers? / 2))?;
        Some(gps as f64 / self.calls.max(1) as f64)
    }

    /// One line for the report.
    pub fn line(&self) -> String {
        format!(
            "{:<16} calls {:>8} in {:>9.3} ms: {:>12.0} calls/s  GPs/call {}  membarriers/call {}",
            self.implementation.name(),
            self.calls,
            self.elapsed.as_secs_f64() * 1e3,
            self.calls_per_sec(),
            self.gps_per_call().map_or("-".into(), |g| format!("{g:.3}")),
            self.membarriers.map_or("-".into(), |m| format!("{:.3}", m as f64 / self.calls.max(1) as f64))
        )
    }
}

/// Runs the writers (and readers) for `imp`. Errors for an implementation
/// without `synchronize_rcu` (crossbeam-epoch).
pub fn run_sharing(imp: Implementation, config: &SharingConfig) -> Result<SharingReport, String> {
    if !imp.has_synchronize() {
        return Err(format!("{imp} has no synchronize_rcu"));
    }
    let plan = CpuPlan::new(config.pin);
    let readers = (config.busy_readers > 0).then(|| BusyReaders::start(imp, config.busy_readers, &plan, 0));
    // Opened before the writers start: the counter follows the threads
    // created after it (the writers), not the readers or reclaim threads.
    let membarriers = MembarrierCounter::open();
    let gps_before = imp.grace_periods_run();
    let release = Barrier::new(config.writers + 1);
    let elapsed = std::thread::scope(|s| {
        let writers: Vec<_> = (0..config.writers)
            .map(|k| {
                let (plan, release) = (&plan, &release);
                s.spawn(move || {
                    plan.pin(config.busy_readers + k);
                    release.wait();
                    for _ in 0..config.calls_per_writer {
                        imp.synchronize();
                    }
                })
            })
            .collect();
        release.wait();
        let start = Instant::now();
        writers.into_iter().for_each(|w| w.join().expect("writer panicked"));
        start.elapsed()
    });
    let grace_periods = gps_before.and_then(|b| Some(imp.grace_periods_run()? - b));
    let membarriers = membarriers.and_then(|c| c.read());
    if let Some(r) = readers {
        let (_, mismatches) = r.stop();
        if mismatches != 0 {
            return Err(format!("{imp}: readers saw {mismatches} freed nodes"));
        }
    }
    Ok(SharingReport {
        implementation: imp,
        calls: config.writers as u64 * config.calls_per_writer,
        elapsed,
        grace_periods,
        membarriers,
    })
}

/// `perf_event_attr` as of its first version (`PERF_ATTR_SIZE_VER0`, 64
/// bytes; the kernel accepts any published size): the `libc` crate does
/// not define it.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttrV0 {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// Bit field: bit 0 `disabled`, bit 1 `inherit`, ...
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_TRACEPOINT: u32 = 2;
const FLAG_INHERIT: u64 = 1 << 1;

/// A kernel counter of `membarrier` system calls entered by threads this
/// process creates after it is opened (a `perf` tracepoint event with
/// `inherit`; children's counts are added when they exit).
struct MembarrierCounter {
    fd: libc::c_int,
}

impl MembarrierCounter {
    /// None where tracefs or perf events are not available.
    fn open() -> Option<Self> {
        let id = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].iter().find_map(|root| {
            std::fs::read_to_string(format!("{root}/events/syscalls/sys_enter_membarrier/id")).ok()?.trim().parse().ok()
        })?;
        let attr = PerfEventAttrV0 {
            type_: PERF_TYPE_TRACEPOINT,
            size: std::mem::size_of::<PerfEventAttrV0>() as u32,
            config: id,
            flags: FLAG_INHERIT,
            ..PerfEventAttrV0::default()
        };
        // SAFETY: `attr` is a valid, initialised perf_event_attr; pid 0 and
        // cpu -1 count the calling thread (and, with inherit, its future
        // children) on any CPU; no group, no flags.
        let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &attr as *const PerfEventAttrV0, 0, -1, -1, 0) };
        (fd >= 0).then_some(MembarrierCounter { fd: fd as libc::c_int })
    }

    /// The count so far (the writers have been joined: their counts are in).
    fn read(&self) -> Option<u64> {
        let mut value = 0u64;
        // SAFETY: reads 8 bytes into `value` from a perf event fd we own.
        let n = unsafe { libc::read(self.fd, (&mut value as *mut u64).cast(), 8) };
        (n == 8).then_some(value)
    }
}

impl Drop for MembarrierCounter {
    fn drop(&mut self) {
        // SAFETY: `fd` is ours and closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// N reader threads of one implementation running its harness reader until
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
                        imp.run_reader(&shared, &progress[k], 0)
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

/// The grace-period workload of `compare`: per implementation with a
/// `synchronize_rcu`, 4 writers with no reader and with one busy reader,
/// then 1 reader + 1 writer.
#[derive(Clone, Debug)]
pub struct Sharing {
    /// `synchronize_rcu` calls per writer with no reader (a tenth of it
    /// with the busy reader).
    pub calls: u64,
    /// Measured window of each 1 reader + 1 writer run.
    pub run_time: Duration,
    /// Warm-up before it.
    pub warmup: Duration,
    /// Pin threads to CPUs.
    pub pin: bool,
}

const METRICS: &[Metric] = &[
    Metric::SyncNoReaderCallsPerSec,
    Metric::SyncBusyCallsPerSec,
    Metric::SyncBusyGpsPerCall,
    Metric::Reads1r1w,
    Metric::Writes1r1w,
];

impl Workload for Sharing {
    fn section(&self) -> Section {
        Section { title: "grace periods", metrics: METRICS }
    }

    fn round(&self, round: Round, results: &mut Results, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
        for imp in round.order(Implementation::with_synchronize().collect()) {
            let idle = SharingConfig { writers: 4, calls_per_writer: self.calls, busy_readers: 0, pin: self.pin };
            let r = run_sharing(imp, &idle)?;
            results.add(imp.name(), Metric::SyncNoReaderCallsPerSec, r.calls_per_sec());
            progress(&format!("{} no reader  {}", round.label(), r.line()));
            let busy = SharingConfig { calls_per_writer: (self.calls / 10).max(1), busy_readers: 1, ..idle };
            let r = run_sharing(imp, &busy)?;
            results.add(imp.name(), Metric::SyncBusyCallsPerSec, r.calls_per_sec());
            if let Some(g) = r.gps_per_call() {
                results.add(imp.name(), Metric::SyncBusyGpsPerCall, g);
            }
            progress(&format!("{} 1 reader   {}", round.label(), r.line()));
            let mut rc = RunConfig::new(imp, 1, 1, self.run_time);
            rc.warmup = self.warmup;
            rc.pin = self.pin;
            let report = run(&rc)?;
            if report.mismatches != 0 {
                return Err(format!("{imp}: readers saw {} freed nodes", report.mismatches));
            }
            results.add(imp.name(), Metric::Reads1r1w, report.reads_per_sec());
            results.add(imp.name(), Metric::Writes1r1w, report.writes_per_sec());
            progress(&format!(
                "{} 1r1w       {:<16} reads/s {:.3e} writes/s {:.3e}",
                round.label(),
                imp.name(),
                report.reads_per_sec(),
                report.writes_per_sec()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_runs_count_calls_and_grace_periods() {
        for imp in ["rcu-memb", "rcu-qsbr"].map(Implementation::named) {
            for busy_readers in [0, 1] {
                let config = SharingConfig { writers: 2, calls_per_writer: 50, busy_readers, pin: false };
                let r = run_sharing(imp, &config).unwrap();
                assert_eq!(r.calls, 100);
                let gps = r.grace_periods.unwrap();
                // Other tests of this binary run grace periods at the same
                // time, so only bounds are sure: with a reader, at least
                // one grace period ran.
                assert!(busy_readers == 0 || gps >= 1, "{}", r.line());
            }
        }
        assert!(run_sharing(
            Implementation::named("crossbeam-epoch"),
            &SharingConfig { writers: 1, calls_per_writer: 1, busy_readers: 0, pin: false }
        )
        .is_err());
    }
}
