//! `rcu-bench sharing`: concurrent `synchronize_rcu` callers, the rows of
//! the grace-period issue's table.
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
//! Also for this workspace's memb, the membarrier count cross-checks the
//! stats (two per grace period, none on the fast path).

use crate::implementation::{synchronize, BusyReaders, Implementation};
use crate::pin::CpuPlan;
use std::sync::Barrier;
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
            .or_else(|| (self.implementation.name() == "liburcu-memb").then_some(self.membarriers? / 2))?;
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

/// Grace periods `imp` has run so far, where it can tell.
fn grace_periods_so_far(imp: Implementation) -> Option<u64> {
    let real = |s: rcu_core::Stats| s.grace_periods - s.synchronize_without_readers;
    match imp {
        Implementation::Memb => Some(real(rcu_memb::stats())),
        Implementation::Qsbr => Some(real(rcu_qsbr::stats())),
        Implementation::Epoch => None,
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuMemb => <crate::liburcu::LibMemb as crate::liburcu::Urcu>::grace_periods(),
        #[cfg(feature = "liburcu")]
        Implementation::LiburcuQsbr => <crate::liburcu::LibQsbr as crate::liburcu::Urcu>::grace_periods(),
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
    let gps_before = grace_periods_so_far(imp);
    let release = Barrier::new(config.writers + 1);
    let elapsed = std::thread::scope(|s| {
        let writers: Vec<_> = (0..config.writers)
            .map(|k| {
                let (plan, release) = (&plan, &release);
                s.spawn(move || {
                    plan.pin(config.busy_readers + k);
                    release.wait();
                    for _ in 0..config.calls_per_writer {
                        synchronize(imp);
                    }
                })
            })
            .collect();
        release.wait();
        let start = Instant::now();
        writers.into_iter().for_each(|w| w.join().expect("writer panicked"));
        start.elapsed()
    });
    let grace_periods = gps_before.and_then(|b| Some(grace_periods_so_far(imp)? - b));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_runs_count_calls_and_grace_periods() {
        for imp in [Implementation::Memb, Implementation::Qsbr] {
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
            Implementation::Epoch,
            &SharingConfig { writers: 1, calls_per_writer: 1, busy_readers: 0, pin: false }
        )
        .is_err());
    }
}
