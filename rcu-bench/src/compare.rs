//! `rcu-bench compare`: a list of workloads run over interleaved rounds,
//! with ratios against named baselines. The workloads, in report order:
//!
//! * [`Suite`]: read pair and 2 readers + 1 writer, per implementation;
//! * [`Sharing`]: concurrent `synchronize_rcu` callers and 1 reader + 1
//!   writer, per implementation with a grace-period wait;
//! * [`Flood`]: every flood kind, each in a child process;
//! * [`ConfigReload`]: every way of holding a configuration value, and the
//!   rayon pool rows.
//!
//! Methodology: within each workload the implementations are interleaved,
//! A B C then C B A and so on for `rounds` rounds, so slow drift of the
//! machine (other load, thermal state, the allocator's state) spreads over
//! all of them instead of landing on whichever ran last; each figure is the
//! median over rounds, with the min and max shown. Every timed section
//! starts with a warm-up that is not counted. Threads are pinned (see
//! `pin`).

use crate::config::{ConfigReload, ConfigRunConfig};
use crate::flood::{Flood, FloodConfig};
use crate::implementations::Implementation;
use crate::report::{Results, Round, Workload};
use crate::sharing::Sharing;
use crate::suite::Suite;
use std::time::Duration;

/// What `compare` runs: workloads, each for `rounds` rounds.
pub struct CompareConfig {
    /// Rounds (each runs every workload once, order alternating).
    pub rounds: usize,
    /// The workloads, in report order.
    pub workloads: Vec<Box<dyn Workload>>,
}

impl CompareConfig {
    /// Every workload at the sizes of one step of the preset: the suite's
    /// read and run windows, flood objects per thread, config reload and
    /// sharing sizes.
    fn every_workload(rounds: usize, read_time: Duration, run_time: Duration, warmup: Duration, sizes: Sizes) -> Self {
        let pin = sizes.pin;
        let implementations = Implementation::all().to_vec();
        CompareConfig {
            rounds,
            workloads: vec![
                Box::new(Suite { implementations, read_time, run_time, warmup, pin }),
                Box::new(Sharing { calls: sizes.sharing_calls, run_time, warmup, pin }),
                Box::new(Flood(FloodConfig { threads: 2, objects_per_thread: sizes.flood_objects, pin })),
                Box::new(ConfigReload { run: sizes.config, pool_threads: 2 }),
            ],
        }
    }

    /// The full comparison (a few minutes on a 2-core machine).
    pub fn full(pin: bool) -> Self {
        let sizes = Sizes { pin, sharing_calls: 100_000, flood_objects: 2_000_000, config: ConfigRunConfig::full(pin) };
        Self::every_workload(5, Duration::from_secs(1), Duration::from_secs(3), Duration::from_millis(300), sizes)
    }

    /// A few seconds in all, for CI and for trying the command out; the
    /// figures are noisy.
    pub fn quick(pin: bool) -> Self {
        let sizes = Sizes { pin, sharing_calls: 2_000, flood_objects: 100_000, config: ConfigRunConfig::quick(pin) };
        Self::every_workload(2, Duration::from_millis(50), Duration::from_millis(200), Duration::from_millis(50), sizes)
    }

    /// Only the grace-period rows (`rcu-bench sharing`).
    pub fn sharing_only(calls: u64, rounds: usize, run_time: Duration, pin: bool) -> Self {
        let warmup = Duration::from_millis(300).min(run_time);
        CompareConfig { rounds, workloads: vec![Box::new(Sharing { calls, run_time, warmup, pin })] }
    }

    /// Only the config-reload rows (`rcu-bench config`).
    pub fn config_only(run: ConfigRunConfig, rounds: usize, pool_threads: usize) -> Self {
        CompareConfig { rounds, workloads: vec![Box::new(ConfigReload { run, pool_threads })] }
    }

    /// Drops the workload whose section is titled `title`.
    pub fn without(mut self, title: &str) -> Self {
        self.workloads.retain(|w| w.section().title != title);
        self
    }
}

/// The sizes of the workloads after the suite.
struct Sizes {
    pin: bool,
    sharing_calls: u64,
    flood_objects: u64,
    config: ConfigRunConfig,
}

/// Runs every workload for every round; `progress` gets a line per
/// measurement.
pub fn compare(config: &CompareConfig, mut progress: impl FnMut(&str)) -> Result<Results, String> {
    let mut results = Results::default();
    for w in &config.workloads {
        results.sections.push(w.section());
        results.notes.extend(w.note());
    }
    for index in 0..config.rounds {
        let round = Round { index, of: config.rounds };
        for w in &config.workloads {
            w.round(round, &mut results, &mut progress)?;
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{format_csv, format_text, Metric, Section};

    #[test]
    fn medians_and_ratios_come_from_the_samples() {
        let mut r = Results::default();
        r.sections.push(Section { title: "suite", metrics: &[Metric::ReadPairNs] });
        for v in [3.0, 1.0, 2.0] {
            r.add("a", Metric::ReadPairNs, v);
        }
        for v in [4.0, 4.0, 8.0] {
            r.add("b", Metric::ReadPairNs, v);
        }
        let s = r.stats("a", Metric::ReadPairNs).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let text = format_text(&r, &["b".to_string()]);
        assert!(text.contains("0.500+"), "{text}");
        let csv = format_csv(&r);
        assert!(csv.contains("a,read_pair_ns,2,1,3,3"), "{csv}");
    }

    #[test]
    fn a_tiny_suite_runs_every_rust_implementation() {
        let implementations: Vec<Implementation> =
            ["rcu-memb", "rcu-qsbr", "crossbeam-epoch"].map(Implementation::named).to_vec();
        let suite = Suite {
            implementations: implementations.clone(),
            read_time: Duration::from_millis(5),
            // Long enough for every thread to get CPU time on a loaded
            // 2-core CI machine: this checks the plumbing, not speed.
            run_time: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            pin: false,
        };
        let config = CompareConfig { rounds: 1, workloads: vec![Box::new(suite)] };
        let results = compare(&config, |_| {}).unwrap();
        for imp in &implementations {
            assert!(results.median(imp.name(), Metric::ReadPairNs).unwrap() > 0.0);
            assert!(results.median(imp.name(), Metric::ReadsPerSec).unwrap() > 0.0);
        }
        assert!(results.median("rcu-memb", Metric::GpMedianNs).is_some());
        assert!(results.median("crossbeam-epoch", Metric::GpMedianNs).is_none());
    }
}
