//! The summary of many runs (medians per flavour and strategy) and the
//! stress binary's two outputs: a text table, and JSON of every run and of
//! the summary.

use crate::stress::{FlavourRunner, RunResult};
use crate::table::Strategy;
use rcu_testkit::stats;
use serde_json::json;
use std::fmt::Write;

/// One row of the summary: the runs of one flavour and strategy.
pub struct Summary {
    /// The flavour's name.
    pub flavour: &'static str,
    /// The strategy.
    pub strategy: Strategy,
    /// Median resizer wall time, in seconds.
    pub resize_secs: f64,
    /// Median resizer CPU time, where the clock was available.
    pub resizer_cpu_secs: Option<f64>,
    /// Median resizes per second.
    pub resizes_per_sec: f64,
    /// Median grace periods per run.
    pub grace_periods: f64,
    /// Median lookups per second while the resizer ran.
    pub lookups_per_sec: f64,
    /// Highest peak RSS of the runs, in bytes.
    pub peak_rss: Option<u64>,
    /// Early frees, all runs together.
    pub early_frees: u64,
    /// Leaked arrays and descriptors, all runs together.
    pub leaks: u64,
    /// Median resize time relative to `leak`'s on the same flavour, if
    /// `leak` ran.
    pub relative_to_leak: Option<f64>,
}

/// One [`Summary`] row per flavour and strategy, in the order given: the
/// medians of their runs in `results` (every pair must have run).
pub fn summarise(results: &[RunResult], flavours: &[&FlavourRunner], strategies: &[Strategy]) -> Vec<Summary> {
    let mut rows = Vec::new();
    for flavour in flavours {
        for strategy in strategies {
            let runs: Vec<&RunResult> =
                results.iter().filter(|r| r.flavour == flavour.name && r.strategy == *strategy).collect();
            let med = |f: &dyn Fn(&RunResult) -> f64| {
                stats::median(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()).expect("every row has a run per repeat")
            };
            rows.push(Summary {
                flavour: flavour.name,
                strategy: *strategy,
                resize_secs: med(&|r| r.resize_time.as_secs_f64()),
                resizer_cpu_secs: stats::median(
                    &runs.iter().filter_map(|r| r.resize_cpu).map(|d| d.as_secs_f64()).collect::<Vec<_>>(),
                ),
                resizes_per_sec: med(&|r| r.resizes_per_sec()),
                grace_periods: med(&|r| r.grace_periods as f64),
                lookups_per_sec: med(&|r| r.lookups_per_sec()),
                peak_rss: runs.iter().filter_map(|r| r.peak_rss).max(),
                early_frees: runs.iter().map(|r| r.reader.early_frees).sum(),
                leaks: runs.iter().map(|r| r.leaks()).sum(),
                relative_to_leak: None,
            });
        }
    }
    let leak_time = |flavour: &str, rows: &[Summary]| {
        rows.iter().find(|s| s.flavour == flavour && s.strategy == Strategy::Leak).map(|s| s.resize_secs)
    };
    for i in 0..rows.len() {
        let relative = leak_time(rows[i].flavour, &rows).map(|t| rows[i].resize_secs / t);
        rows[i].relative_to_leak = relative;
    }
    rows
}

const WRITE_TO_STRING: &str = "writing to a String cannot fail";

/// The summary as a text table: a header line, then one line per row.
pub fn table(rows: &[Summary]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{:<7} {:<9} {:>10} {:>11} {:>8} {:>13} {:>9} {:>6} {:>6} {:>8}",
        "flavour", "strategy", "resize ms", "resizes/s", "GPs", "lookups/s", "peak RSS", "early", "leaks", "vs leak"
    )
    .expect(WRITE_TO_STRING);
    for s in rows {
        let rss = s.peak_rss.map_or("n/a".to_string(), |b| format!("{:.1}M", b as f64 / (1 << 20) as f64));
        let rel = s.relative_to_leak.map_or("n/a".to_string(), |x| format!("{x:.2}x"));
        writeln!(
            out,
            "{:<7} {:<9} {:>10.1} {:>11.0} {:>8.0} {:>13.0} {:>9} {:>6} {:>6} {:>8}",
            s.flavour,
            s.strategy.name(),
            s.resize_secs * 1e3,
            s.resizes_per_sec,
            s.grace_periods,
            s.lookups_per_sec,
            rss,
            s.early_frees,
            s.leaks,
            rel
        )
        .expect(WRITE_TO_STRING);
    }
    out
}

/// What each column of [`table`] means, one line per column.
pub const LEGEND: &str = "  flavour    the RCU flavour the table's readers and resizer used
  strategy   how old arrays were retired: sync (synchronize_rcu, then free), call-rcu
             (call_rcu_raw of a wrapper), kvfree (headless kvfree_rcu), leak (never freed: the floor)
  resize ms  the resizer's wall time for all resizes (median of the repeats)
  resizes/s  resizes per second of that time
  GPs        grace periods from the first resize until every retired array was freed
  lookups/s  lookups per second by all readers while the resizer ran
  peak RSS   the process's highest resident set size during the runs of this row
  early      lookups that reached an array already freed (must be 0)
  leaks      arrays and descriptors created but never dropped (must be 0)
  vs leak    resize time relative to the leak strategy on the same flavour (1.00x: free costs nothing)
";

/// The run's verdict: passed, and the one line that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// No run saw an early free, a corrupt lookup or a leak.
    pub passed: bool,
    /// `PASS: ...` or `FAIL: ...`, naming what was checked.
    pub line: String,
}

/// Checks every run: early frees, corrupt lookups and leaks, all zero.
pub fn verdict(runs: &[RunResult]) -> Verdict {
    let lookups: u64 = runs.iter().map(|r| r.reader.lookups).sum();
    let early: u64 = runs.iter().map(|r| r.reader.early_frees).sum();
    let corrupt: u64 = runs.iter().map(|r| r.reader.corrupt).sum();
    let leaks: u64 = runs.iter().map(RunResult::leaks).sum();
    let failed = runs.iter().filter(|r| !r.failures().is_empty()).count();
    let passed = failed == 0 && !runs.is_empty();
    let word = if passed { "PASS" } else { "FAIL" };
    let line = format!(
        "{word}: {} of {} runs clean; {lookups} lookups checked: {early} early frees, {corrupt} corrupt \
         lookups; {leaks} leaked arrays or descriptors",
        runs.len() - failed,
        runs.len()
    );
    Verdict { passed, line }
}

/// One run as JSON; `repeat` is its repetition (0-based).
pub fn run_json(r: &RunResult, repeat: u64) -> serde_json::Value {
    json!({
        "flavour": r.flavour,
        "strategy": r.strategy.name(),
        "repeat": repeat,
        "resizes": r.resizes,
        "readers": r.readers,
        "resize_seconds": r.resize_time.as_secs_f64(),
        "resizer_cpu_seconds": r.resize_cpu.map(|d| d.as_secs_f64()),
        "drain_seconds": r.drain_time.as_secs_f64(),
        "call_rcu_fallbacks": r.fallbacks,
        "kvfree_emergency_synchronize": r.kvfree_emergencies,
        "kvfree_blocks_sealed": {
            "full": r.kvfree_blocks[0],
            "timer": r.kvfree_blocks[1],
            "barrier": r.kvfree_blocks[2],
        },
        "resizes_per_second": r.resizes_per_sec(),
        "grace_periods": r.grace_periods,
        "lookups_checked": r.reader.lookups,
        "lookups_during_resize": r.lookups_during,
        "lookups_per_second": r.lookups_per_sec(),
        "peak_rss_bytes": r.peak_rss,
        "max_arrays_alive": r.max_arrays_alive,
        "early_frees": r.reader.early_frees,
        "corrupt_lookups": r.reader.corrupt,
        "arrays_created": r.arrays_created,
        "arrays_dropped": r.arrays_dropped,
        "descriptors_created": r.descriptors_created,
        "descriptors_dropped": r.descriptors_dropped,
        "leaks": r.leaks(),
    })
}

/// One summary row as JSON.
pub fn summary_json(s: &Summary) -> serde_json::Value {
    json!({
        "flavour": s.flavour,
        "strategy": s.strategy.name(),
        "resize_seconds": s.resize_secs,
        "resizer_cpu_seconds": s.resizer_cpu_secs,
        "resizes_per_second": s.resizes_per_sec,
        "grace_periods": s.grace_periods,
        "lookups_per_second": s.lookups_per_sec,
        "peak_rss_bytes": s.peak_rss,
        "early_frees": s.early_frees,
        "leaks": s.leaks,
        "relative_to_leak": s.relative_to_leak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::tests::clean_run;
    use std::time::Duration;

    /// Rows come in the order asked for, with the median of each
    /// configuration's runs and its time relative to the same flavour's
    /// `leak`; the table lines its columns up under the header.
    #[test]
    fn the_summary_takes_medians_and_compares_with_leak() {
        let run = |strategy, ms| RunResult { strategy, resize_time: Duration::from_millis(ms), ..clean_run() };
        let results =
            [run(Strategy::Sync, 30), run(Strategy::Leak, 10), run(Strategy::Sync, 10), run(Strategy::Sync, 20)];
        let memb = FlavourRunner::named("memb").expect("memb is in FLAVOURS");
        let rows = summarise(&results, &[memb], &[Strategy::Sync, Strategy::Leak]);
        let order: Vec<_> = rows.iter().map(|s| (s.flavour, s.strategy)).collect();
        assert_eq!(order, [("memb", Strategy::Sync), ("memb", Strategy::Leak)]);
        assert!((rows[0].resize_secs - 0.020).abs() < 1e-12);
        assert!((rows[0].relative_to_leak.expect("leak ran") - 2.0).abs() < 1e-9);
        assert_eq!(rows[1].relative_to_leak, Some(1.0));

        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "flavour strategy   resize ms   resizes/s      GPs     lookups/s  peak RSS  early  leaks  vs leak"
        );
        assert!(lines[1].starts_with("memb    sync            20.0 "), "{}", lines[1]);
        assert!(lines[1].ends_with("      0      0    2.00x"), "{}", lines[1]);
        assert!(lines.iter().all(|line| line.len() == lines[0].len()), "{text}");
        assert_eq!(summary_json(&rows[1])["relative_to_leak"], 1.0);
    }

    /// The verdict passes only if every run is clean, and names what it
    /// checked; any early free, corrupt lookup or leak fails it.
    #[test]
    fn the_verdict_fails_on_any_early_free_corrupt_lookup_or_leak() {
        let clean = [clean_run(), clean_run()];
        let v = verdict(&clean);
        assert!(v.passed, "{}", v.line);
        assert!(v.line.starts_with("PASS: 2 of 2 runs clean;"), "{}", v.line);

        let mut early = clean_run();
        early.reader.early_frees = 1;
        let mut corrupt = clean_run();
        corrupt.reader.corrupt = 3;
        let mut leak = clean_run();
        leak.arrays_dropped = leak.arrays_created - 1;
        for bad in [early, corrupt, leak] {
            let v = verdict(&[clean_run(), bad]);
            assert!(!v.passed, "{}", v.line);
            assert!(v.line.starts_with("FAIL: 1 of 2 runs clean;"), "{}", v.line);
        }
        assert!(!verdict(&[]).passed, "no run is no pass");
    }

    /// The legend explains every column of the table's header.
    #[test]
    fn the_legend_names_every_column() {
        let header = table(&[]);
        for column in [
            "flavour",
            "strategy",
            "resize ms",
            "resizes/s",
            "GPs",
            "lookups/s",
            "peak RSS",
            "early",
            "leaks",
            "vs leak",
        ] {
            assert!(header.contains(column), "{column}");
            assert!(LEGEND.lines().any(|l| l.trim_start().starts_with(column)), "legend lacks {column}");
        }
    }
}
