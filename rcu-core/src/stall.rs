//! Stall warnings, as the kernel's RCU CPU stall detector (liburcu has
//! none): a grace-period writer that has waited longer than the threshold
//! for one reader prints which reader holds it, then again at a doubling
//! interval while the same stall lasts.
//!
//! The threshold is process-wide. It is read once, at the first grace period
//! that has to sleep for a reader, from `RCU_STALL_TIMEOUT` (seconds,
//! fractions allowed, `0` turns the warnings off), and can be changed at any
//! time with [`set_stall_timeout`]. The default is the kernel's 21 s: long
//! enough that a reader preempted on an overloaded machine, or stopped in a
//! debugger for a moment, is not reported, short enough that a reader that
//! forgot its quiescent state is found while someone still looks.
//!
//! A warning is never a false positive: the writer measures from the moment
//! it began to wait for that reader, which was then, and has been since, in a
//! section older than the grace period. Warnings cost nothing until a writer
//! sleeps: the futex wait then gets a timeout at the next warning's time.

// The loom model passes `StallReporter::off()`: the rest is unused there.
#![cfg_attr(loom, allow(dead_code))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The environment variable that sets the threshold at start.
pub const STALL_TIMEOUT_ENV: &str = "RCU_STALL_TIMEOUT";
/// The default threshold, the kernel's `CONFIG_RCU_CPU_STALL_TIMEOUT`.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(21);

/// The threshold in nanoseconds; 0: off; `UNSET`: not read from the
/// environment yet.
static TIMEOUT_NS: AtomicU64 = AtomicU64::new(UNSET);
const UNSET: u64 = u64::MAX;

/// Where warnings go: stderr, unless a test redirects them.
static SINK: Mutex<Option<fn(&str)>> = Mutex::new(None);

/// Sets the stall-warning threshold for every flavour in the process;
/// `None` or a zero duration turns the warnings off. Takes effect for
/// waits that begin afterwards.
pub fn set_stall_timeout(timeout: Option<Duration>) {
    let ns = timeout.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(UNSET - 1));
    // Relaxed: a configuration value; a wait that begins concurrently may
    // use the old or the new threshold, both of which the caller accepted.
    TIMEOUT_NS.store(ns, Ordering::Relaxed);
}

/// The stall-warning threshold in force, `None` when warnings are off.
pub fn stall_timeout() -> Option<Duration> {
    // Relaxed: see `set_stall_timeout`.
    let mut ns = TIMEOUT_NS.load(Ordering::Relaxed);
    if ns == UNSET {
        let from_env = from_environment();
        let env_ns = from_env.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(UNSET - 1));
        // Relaxed: a racing `set_stall_timeout` wins (the CAS fails), and
        // two racing first reads store the same value.
        ns = match TIMEOUT_NS.compare_exchange(UNSET, env_ns, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => env_ns,
            Err(current) => current,
        };
    }
    (ns != 0).then(|| Duration::from_nanos(ns))
}

fn from_environment() -> Option<Duration> {
    match std::env::var(STALL_TIMEOUT_ENV) {
        Err(std::env::VarError::NotPresent) => Some(DEFAULT_STALL_TIMEOUT),
        Err(std::env::VarError::NotUnicode(_)) => invalid_env("(not UTF-8)"),
        Ok(text) => match parse_timeout(&text) {
            Ok(timeout) => timeout,
            Err(()) => invalid_env(&text),
        },
    }
}

fn invalid_env(text: &str) -> Option<Duration> {
    emit(&format!(
        "rcu: {STALL_TIMEOUT_ENV}={text:?} is not a number of seconds (e.g. 21, 0.5, or 0 to turn stall \
         warnings off); using the default, {} s",
        DEFAULT_STALL_TIMEOUT.as_secs()
    ));
    Some(DEFAULT_STALL_TIMEOUT)
}

/// Parses `RCU_STALL_TIMEOUT`: seconds, fractions allowed; `Ok(None)` for 0.
pub(crate) fn parse_timeout(text: &str) -> Result<Option<Duration>, ()> {
    let secs: f64 = text.trim().parse().map_err(|_| ())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(());
    }
    let timeout = Duration::try_from_secs_f64(secs).map_err(|_| ())?;
    Ok((!timeout.is_zero()).then_some(timeout))
}

/// Redirects stall warnings to `sink` (`None`: back to stderr). For tests
/// that assert on the message; not part of the stable API.
#[doc(hidden)]
pub fn set_stall_sink(sink: Option<fn(&str)>) {
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = sink;
}

fn emit(message: &str) {
    let sink = *SINK.lock().unwrap_or_else(|e| e.into_inner());
    match sink {
        Some(sink) => sink(message),
        None => eprintln!("{message}"),
    }
}

/// What a grace period reports a stall with: the flavour's name, the
/// reader's state in words, and the counter `stats()` reads.
#[derive(Clone, Copy, Debug)]
pub struct StallReporter<'a> {
    flavour: &'static str,
    state: &'static str,
    warned: Option<&'a AtomicU64>,
}

impl<'a> StallReporter<'a> {
    /// A reporter for `flavour` whose stalled readers are in `state`
    /// ("inside a read-side section", "online without a quiescent state"),
    /// counting first warnings in `warned`.
    pub fn new(flavour: &'static str, state: &'static str, warned: &'a AtomicU64) -> Self {
        StallReporter { flavour, state, warned: Some(warned) }
    }

    /// A reporter that never warns (the loom model).
    pub fn off() -> Self {
        StallReporter { flavour: "", state: "", warned: None }
    }

    /// The threshold in force for this reporter (`None`: warnings off).
    pub(crate) fn threshold(&self) -> Option<Duration> {
        self.warned.and_then(|_| stall_timeout())
    }

    /// Warns that a grace period of srcu domain `domain` has waited
    /// `waited` for `open` sections of `rank`, entered by the threads
    /// `openers` (a section may end on any thread, so these are where the
    /// sections began); `warning` counts this stall's warnings.
    pub(crate) fn warn_open_sections(
        &self,
        domain: &str,
        rank: usize,
        open: u64,
        openers: &[u64],
        waited: Duration,
        warning: u32,
    ) {
        if warning == 1 {
            if let Some(counter) = self.warned {
                // Relaxed: a statistic.
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        let threads: Vec<String> =
            openers.iter().map(|&tid| format!("thread \"{}\" (tid {tid})", thread_name(tid))).collect();
        emit(&format!(
            "rcu: stall: a {} grace period of srcu domain \"{domain}\" has waited {:.3} s for {open} section(s) of \
             rank {rank}, {} since before it began, entered by {} (a guard held across a long wait, or leaked with \
             mem::forget?) (warning {warning} of this stall; {STALL_TIMEOUT_ENV}=0 turns warnings off)",
            self.flavour,
            waited.as_secs_f64(),
            self.state,
            if threads.is_empty() { String::from("threads that have exited") } else { threads.join(", ") },
        ));
    }

    /// Starts watching a wait for the reader with kernel thread id `tid`.
    pub(crate) fn watch(&self, tid: u64) -> StallWatch<'a> {
        let threshold = if self.warned.is_some() { stall_timeout() } else { None };
        StallWatch { reporter: *self, tid, started: Instant::now(), next: threshold, warnings: 0 }
    }
}

/// One writer's wait for one reader, with its next warning time.
#[derive(Debug)]
pub(crate) struct StallWatch<'a> {
    reporter: StallReporter<'a>,
    tid: u64,
    started: Instant,
    /// Time since `started` at which the next warning is due; `None`: off.
    next: Option<Duration>,
    warnings: u32,
}

impl StallWatch<'_> {
    /// How long the writer may sleep before it must look again (`None`:
    /// until woken). Warns first if a warning is due.
    pub(crate) fn sleep_budget(&mut self) -> Option<Duration> {
        let due = self.next?;
        let waited = self.started.elapsed();
        if waited < due {
            return Some(due - waited);
        }
        self.warn(waited);
        // The interval doubles, as the kernel's grows, so a long stall
        // prints a handful of lines, not one per threshold.
        let next = due.saturating_mul(2);
        self.next = Some(next);
        Some(next.saturating_sub(waited))
    }

    fn warn(&mut self, waited: Duration) {
        self.warnings += 1;
        if self.warnings == 1 {
            if let Some(counter) = self.reporter.warned {
                // Relaxed: a statistic.
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        let r = &self.reporter;
        emit(&format!(
            "rcu: stall: a {} grace period has waited {:.3} s for thread \"{}\" (tid {}), {} since before it \
             began (warning {} of this stall; {STALL_TIMEOUT_ENV}=0 turns warnings off)",
            r.flavour,
            waited.as_secs_f64(),
            thread_name(self.tid),
            self.tid,
            r.state,
            self.warnings,
        ));
    }
}

/// The kernel's name for thread `tid` of this process (`comm`, the first
/// 15 bytes of a Rust thread's name), or `?`.
fn thread_name(tid: u64) -> String {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_else(|_| String::from("?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_parses_seconds_with_fractions_and_zero_as_off() {
        assert_eq!(parse_timeout("21"), Ok(Some(Duration::from_secs(21))));
        assert_eq!(parse_timeout(" 0.25 "), Ok(Some(Duration::from_millis(250))));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert_eq!(parse_timeout("0.0"), Ok(None));
        assert_eq!(parse_timeout("-1"), Err(()));
        assert_eq!(parse_timeout("ten"), Err(()));
        assert_eq!(parse_timeout("inf"), Err(()));
        assert_eq!(parse_timeout(""), Err(()));
    }

    #[test]
    fn a_watch_warns_only_once_its_threshold_has_passed_then_at_doubling_intervals() {
        let count = AtomicU64::new(0);
        let reporter = StallReporter::new("memb", "inside a read-side section", &count);
        let mut watch = reporter.watch(crate::sys::gettid());
        watch.next = Some(Duration::from_secs(3600));
        assert!(watch.sleep_budget().unwrap() > Duration::from_secs(3000));
        assert_eq!(count.load(Ordering::Relaxed), 0, "no warning before the threshold");
        watch.next = Some(Duration::ZERO);
        watch.sleep_budget();
        watch.next = Some(Duration::ZERO);
        watch.sleep_budget();
        assert_eq!(watch.warnings, 2);
        assert_eq!(count.load(Ordering::Relaxed), 1, "one stall counted once");
    }
}
