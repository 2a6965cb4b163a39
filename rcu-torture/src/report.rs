//! The result of one run and its pass condition.

use crate::board::Histogram;
use rcu_core::{BarrierStrategy, Stats};
use std::fmt;
use std::time::Duration;

/// Everything a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// `memb` or `qsbr`.
    pub flavour: &'static str,
    /// The seed that reproduces the run's random decisions.
    pub seed: u64,
    /// How long the threads ran.
    pub elapsed: Duration,
    /// Thread counts: readers, extra updaters, churn threads.
    pub threads: (usize, usize, usize),
    /// Read-side sections checked.
    pub reads: u64,
    /// Writer steps completed.
    pub writer_steps: u64,
    /// Times the writer had to wait for an element to become reusable.
    pub writer_stalls: u64,
    /// Steps per retire path: name, count (only the enabled paths).
    pub path_counts: Vec<(&'static str, u64)>,
    /// `synchronize_rcu` calls by the extra updaters.
    pub updater_synchronizes: u64,
    /// Short-lived threads started by churn threads.
    pub churned_threads: u64,
    /// Read-side sections run from thread-exit destructors.
    pub late_reads: u64,
    /// Ages seen by readers.
    pub histogram: Histogram,
    /// Tokens created and dropped, after the final grace period.
    pub created: u64,
    /// See `created`.
    pub dropped: u64,
    /// The flavour's statistics after the run.
    pub stats: Stats,
    /// The barrier strategy the run was required to find, if any.
    pub expected_barrier: Option<BarrierStrategy>,
    /// Failures recorded during the run (the first few), with their count.
    pub failures: Vec<String>,
    /// Number of failures recorded.
    pub failure_count: u64,
}

impl Report {
    /// Every reason the run failed; empty means it passed.
    pub fn problems(&self) -> Vec<String> {
        let tag = format!("[flavour={} seed={}]", self.flavour, self.seed);
        let mut out = Vec::new();
        if self.failure_count > 0 {
            out.push(format!("{tag} {} failure(s) during the run (first ones printed above)", self.failure_count));
        }
        if self.histogram.late() > 0 {
            out.push(format!("{tag} {} read(s) saw an age of 2 or more", self.histogram.late()));
        }
        if self.created != self.dropped {
            out.push(format!(
                "{tag} {} tokens created but {} dropped after the final grace period (leak or double drop)",
                self.created, self.dropped
            ));
        }
        for (name, count) in &self.path_counts {
            if *count == 0 {
                out.push(format!(
                    "FAIL [flavour={} path={name} seed={}] the path never ran (run too short?)",
                    self.flavour, self.seed
                ));
            }
        }
        if self.stats.registered_threads != 0 {
            out.push(format!(
                "{tag} {} reader slot(s) still claimed after every torture thread exited",
                self.stats.registered_threads
            ));
        }
        if let Some(expected) = self.expected_barrier {
            if self.stats.barrier_strategy != expected {
                out.push(format!("{tag} barrier strategy {:?}, expected {expected:?}", self.stats.barrier_strategy));
            }
        }
        out
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.problems().is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (readers, updaters, churners) = self.threads;
        writeln!(
            f,
            "rcu-torture: flavour {}, seed {}, {:.1} s, barrier strategy {:?}",
            self.flavour,
            self.seed,
            self.elapsed.as_secs_f64(),
            self.stats.barrier_strategy
        )?;
        writeln!(f, "  threads: {readers} readers, {updaters} extra updaters, {churners} churn")?;
        writeln!(
            f,
            "  reads {}, writer steps {} ({} stalls), updater synchronize_rcu {}, grace periods {}, synchronize calls {}",
            self.reads,
            self.writer_steps,
            self.writer_stalls,
            self.updater_synchronizes,
            self.stats.grace_periods,
            self.stats.synchronize_calls
        )?;
        writeln!(
            f,
            "  threads churned {}, reads from thread-exit destructors {}",
            self.churned_threads, self.late_reads
        )?;
        write!(f, "  retire paths:")?;
        for (name, count) in &self.path_counts {
            write!(f, " {name}={count}")?;
        }
        writeln!(f)?;
        write!(f, "  age histogram:")?;
        for (age, n) in self.histogram.0.iter().enumerate() {
            write!(f, " {age}:{n}")?;
        }
        writeln!(f)?;
        writeln!(f, "  tokens created {}, dropped {}", self.created, self.dropped)?;
        let problems = self.problems();
        if problems.is_empty() {
            write!(f, "  PASS: no element reached while freed, no age >= 2, created == dropped, no watchdog report")
        } else {
            write!(f, "  FAIL:")?;
            for p in problems {
                write!(f, "\n    {p}")?;
            }
            Ok(())
        }
    }
}
