//! The result of one run and its pass condition.
//!
//! Every problem is one line starting `FAIL [flavour=… path=… seed=…]`:
//! the path is the retire path (or thread kind) at fault, or `-` where no
//! single path is (a leak spread over several, a reader slot left claimed).

use crate::board::Histogram;
use crate::ceiling::mib;
use crate::path::name;
use rcu_core::{BarrierStrategy, Stats};
use std::fmt;
use std::time::Duration;

/// One retire path's tally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTally {
    /// The path.
    pub name: &'static str,
    /// Writer steps through it (each retired one token).
    pub steps: u64,
    /// Tokens it retired that were dropped by the end of the run.
    pub dropped: u64,
}

/// What the readers whose sections roam did (flavours whose guards are
/// `Send`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoamingTally {
    /// Hand-off reader threads (each with a partner).
    pub handoff_readers: usize,
    /// Sections opened by a hand-off reader and ended by its partner.
    pub handoff_reads: u64,
    /// Async reader tasks.
    pub async_tasks: usize,
    /// Worker threads of their runtime.
    pub async_workers: usize,
    /// Sections held across `.await` by the tasks.
    pub async_reads: u64,
    /// Of `async_reads`: sections ended on another worker than they began on.
    pub async_migrations: u64,
}

/// Everything a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The flavour's name.
    pub flavour: &'static str,
    /// The seed that reproduces the run's random decisions.
    pub seed: u64,
    /// How long the threads ran.
    pub elapsed: Duration,
    /// Thread counts: readers, extra updaters, churn threads.
    pub threads: (usize, usize, usize),
    /// Read-side sections checked, each opened and ended on one thread.
    pub reads: u64,
    /// The readers whose sections roam; `None` for a flavour whose guards
    /// are not `Send`.
    pub roaming: Option<RoamingTally>,
    /// Writer steps completed.
    pub writer_steps: u64,
    /// Times the writer had to wait for an element to become reusable.
    pub writer_stalls: u64,
    /// The enabled retire paths, in table order.
    pub paths: Vec<PathTally>,
    /// `synchronize_rcu` calls by the extra updaters.
    pub updater_synchronizes: u64,
    /// Short-lived threads started by churn threads.
    pub churned_threads: u64,
    /// Objects churn threads left pending (kvfree blocks, callbacks) at exit.
    pub churn_pending: u64,
    /// Read-side sections run from thread-exit destructors.
    pub late_reads: u64,
    /// Chained callbacks run by the chain path.
    pub chain_links: u64,
    /// Flood threads, their bursts and calls.
    pub flooders: usize,
    /// See `flooders`.
    pub flood_bursts: u64,
    /// See `flooders`.
    pub flood_calls: u64,
    /// RSS at the start, largest sample, ceiling, number of samples (bytes).
    pub rss_baseline: u64,
    /// See `rss_baseline`.
    pub rss_peak: u64,
    /// See `rss_baseline`.
    pub rss_ceiling: u64,
    /// See `rss_baseline`.
    pub rss_samples: u64,
    /// Ages seen by readers.
    pub histogram: Histogram,
    /// Read-side sections that found their element freed or aged 2+.
    pub bad_reads: u64,
    /// Tokens dropped before the cookie of their retire completed.
    pub early_drops: u64,
    /// Tokens created, after the final `rcu_barrier`.
    pub created: u64,
    /// Tokens dropped, after the final `rcu_barrier`.
    pub dropped: u64,
    /// Of `dropped`: tokens never retired (still published at the end).
    pub dropped_unretired: u64,
    /// Other objects (see `ledger.rs`): source, created, dropped.
    pub ledgers: Vec<(&'static str, u64, u64)>,
    /// The flavour's statistics before the run (its counters are
    /// process-wide; the checks use the difference).
    pub stats_before: Stats,
    /// The flavour's statistics after the final `rcu_barrier`.
    pub stats: Stats,
    /// The barrier strategy the run was required to find, if any.
    pub expected_barrier: Option<BarrierStrategy>,
    /// Failures recorded during the run (the first few), with their count.
    pub failures: Vec<String>,
    /// Number of failures recorded.
    pub failure_count: u64,
    /// Every path a failure during the run named.
    pub failed_paths: Vec<String>,
}

/// Engine counters that moved during the run.
struct Moved {
    callbacks_invoked: u64,
    barriers: u64,
    kvfree_freed: u64,
    emergency_synchronize: u64,
    emergency_reserve: u64,
    callback_panics: u64,
    drop_panics: u64,
    thread_exit_seals: u64,
}

impl Report {
    fn tag(&self, path: &str) -> String {
        format!("FAIL [flavour={} path={path} seed={}]", self.flavour, self.seed)
    }

    /// The path a line made with [`Report::tag`] names.
    fn path_of(line: &str) -> Option<&str> {
        let rest = &line[line.find(" path=")? + " path=".len()..];
        Some(&rest[..rest.find(" seed=")?])
    }

    /// Every path named by a failure during the run or a problem found
    /// after it (`-` for problems no single path owns), sorted.
    pub fn failing_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.failed_paths.clone();
        for p in self.problems() {
            if let Some(path) = Self::path_of(&p) {
                paths.push(path.to_owned());
            }
        }
        paths.sort();
        paths.dedup();
        paths
    }

    fn steps(&self, path: &str) -> u64 {
        self.paths.iter().filter(|p| p.name == path).map(|p| p.steps).sum()
    }

    fn moved(&self) -> Moved {
        let (a, b) = (&self.stats, &self.stats_before);
        Moved {
            callbacks_invoked: a.callbacks_invoked.saturating_sub(b.callbacks_invoked),
            barriers: a.barriers.saturating_sub(b.barriers),
            kvfree_freed: a.kvfree_objects_freed.saturating_sub(b.kvfree_objects_freed),
            emergency_synchronize: a.kvfree_emergency_synchronize.saturating_sub(b.kvfree_emergency_synchronize),
            emergency_reserve: a.kvfree_emergency_reserve.saturating_sub(b.kvfree_emergency_reserve),
            callback_panics: a.callback_panics.saturating_sub(b.callback_panics),
            drop_panics: a.kvfree_drop_panics.saturating_sub(b.kvfree_drop_panics),
            thread_exit_seals: a.kvfree_blocks_sealed.thread_exit.saturating_sub(b.kvfree_blocks_sealed.thread_exit),
        }
    }

    /// Every reason the run failed; empty means it passed.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.failure_count > 0 {
            out.push(format!(
                "{} {} failure(s) during the run (the first ones, each naming its path, are printed above)",
                self.tag("-"),
                self.failure_count
            ));
        }
        if self.bad_reads > 0 {
            out.push(format!(
                "{} {} read-side section(s) reached an element marked freed or aged 2+ (paths named above)",
                self.tag("-"),
                self.bad_reads
            ));
        }
        if self.early_drops > 0 {
            out.push(format!(
                "{} {} token(s) dropped before the grace period of their retire (paths named above)",
                self.tag("-"),
                self.early_drops
            ));
        }
        if self.histogram.late() > 0 {
            out.push(format!("{} {} read(s) saw an age of 2 or more", self.tag("-"), self.histogram.late()));
        }
        self.accounting_problems(&mut out);
        self.counter_problems(&mut out);
        if let Some(r) = &self.roaming {
            if r.handoff_readers > 0 && r.handoff_reads == 0 {
                out.push(format!("{} no hand-off read completed (run too short?)", self.tag(name::HANDOFF)));
            }
            if r.async_tasks > 0 && r.async_reads == 0 {
                out.push(format!("{} no async read completed (run too short?)", self.tag(name::ASYNC)));
            }
        }
        if self.flooders > 0 && self.flood_calls == 0 {
            out.push(format!("{} the flood never ran (run too short?)", self.tag(name::FLOOD)));
        }
        if self.rss_peak > self.rss_ceiling {
            out.push(format!(
                "{} peak RSS {:.1} MiB above the ceiling {:.1} MiB",
                self.tag(name::FLOOD),
                mib(self.rss_peak),
                mib(self.rss_ceiling)
            ));
        }
        for p in &self.paths {
            if p.steps == 0 {
                out.push(format!("{} the path never ran (run too short?)", self.tag(p.name)));
            }
        }
        if self.stats.registered_threads != 0 {
            out.push(format!(
                "{} {} reader slot(s) still claimed after every torture thread exited",
                self.tag("-"),
                self.stats.registered_threads
            ));
        }
        if let Some(expected) = self.expected_barrier {
            if self.stats.barrier_strategy != expected {
                out.push(format!(
                    "{} barrier strategy {:?}, expected {expected:?}",
                    self.tag("-"),
                    self.stats.barrier_strategy
                ));
            }
        }
        out
    }

    /// created == dropped, per path and per source, after rcu_barrier.
    fn accounting_problems(&self, out: &mut Vec<String>) {
        for p in &self.paths {
            if p.dropped != p.steps {
                out.push(format!(
                    "{} retired {} token(s) but {} were dropped after the final rcu_barrier ({})",
                    self.tag(p.name),
                    p.steps,
                    p.dropped,
                    if p.dropped < p.steps { "leak" } else { "double drop" }
                ));
            }
        }
        if self.created != self.dropped {
            out.push(format!(
                "{} {} tokens created but {} dropped after the final rcu_barrier ({} of them never retired)",
                self.tag("-"),
                self.created,
                self.dropped,
                self.dropped_unretired
            ));
        }
        for &(source, created, dropped) in &self.ledgers {
            if created != dropped {
                out.push(format!(
                    "{} {created} {source} object(s) created but {dropped} dropped after the final rcu_barrier",
                    self.tag(source)
                ));
            }
        }
    }

    /// The engine's counters agree with what the paths did.
    fn counter_problems(&self, out: &mut Vec<String>) {
        let m = self.moved();
        let mut need = |path: &str, what: &str, moved: u64, at_least: u64| {
            if moved < at_least {
                out.push(format!("{} stats().{what} moved by {moved}, expected at least {at_least}", self.tag(path)));
            }
        };
        let callbacks = self.steps(name::CALL_RCU) + self.steps(name::CALL_RCU_RAW) + self.chain_links;
        need(name::CALL_RCU, "callbacks_invoked", m.callbacks_invoked, callbacks);
        need(name::CHAIN, "barriers", m.barriers, self.chain_links);
        let kvfreed = [name::KVFREE_BOX, name::KVFREE_VEC, name::EMERGENCY_RESERVE]
            .iter()
            .chain(name::CELL_PATHS.iter())
            .map(|p| self.steps(p))
            .sum::<u64>();
        need(name::KVFREE_BOX, "kvfree_objects_freed", m.kvfree_freed, kvfreed);
        let sync = self.steps(name::EMERGENCY_SYNCHRONIZE);
        need(name::EMERGENCY_SYNCHRONIZE, "kvfree_emergency_synchronize", m.emergency_synchronize, sync);
        let reserve = self.steps(name::EMERGENCY_RESERVE);
        need(name::EMERGENCY_RESERVE, "kvfree_emergency_reserve", m.emergency_reserve, reserve);
        // A churn thread's partial block is sealed at its exit unless the
        // drain timer or an rcu_barrier took it in the microseconds before;
        // over a hundred exits, some must have sealed their own block.
        if self.churned_threads >= 100 && self.churn_pending > 0 {
            need(name::CHURN, "kvfree_blocks_sealed.thread_exit", m.thread_exit_seals, 1);
        }
        if m.callback_panics + m.drop_panics > 0 {
            out.push(format!(
                "{} {} callback(s) and {} kvfree destructor(s) panicked",
                self.tag("-"),
                m.callback_panics,
                m.drop_panics
            ));
        }
        let s = &self.stats;
        if s.callback_backlog != 0
            || s.kvfree_blocks_in_flight != 0
            || s.kvfree_objects_queued != s.kvfree_objects_freed
        {
            out.push(format!(
                "{} after the final rcu_barrier: callback backlog {}, kvfree blocks in flight {}, kvfree objects queued {} freed {} (all must be settled)",
                self.tag("rcu_barrier"),
                s.callback_backlog,
                s.kvfree_blocks_in_flight,
                s.kvfree_objects_queued,
                s.kvfree_objects_freed
            ));
        }
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.problems().is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (readers, updaters, churners) = self.threads;
        let s = &self.stats;
        let m = self.moved();
        writeln!(
            f,
            "rcu-torture: flavour {}, seed {}, {:.1} s, barrier strategy {:?}",
            self.flavour,
            self.seed,
            self.elapsed.as_secs_f64(),
            s.barrier_strategy
        )?;
        writeln!(
            f,
            "  threads: {readers} readers, {updaters} extra updaters, {churners} churn, {} flood",
            self.flooders
        )?;
        writeln!(
            f,
            "  reads {}, writer steps {} ({} stalls), updater synchronize_rcu {}, grace periods {}, synchronize calls {}",
            self.reads,
            self.writer_steps,
            self.writer_stalls,
            self.updater_synchronizes,
            s.grace_periods.saturating_sub(self.stats_before.grace_periods),
            s.synchronize_calls.saturating_sub(self.stats_before.synchronize_calls)
        )?;
        writeln!(
            f,
            "  threads churned {} (objects left pending at exit {}), reads from thread-exit destructors {}",
            self.churned_threads, self.churn_pending, self.late_reads
        )?;
        writeln!(
            f,
            "  kvfree objects freed {}, of them by the thread that retired them {}",
            s.kvfree_objects_freed.saturating_sub(self.stats_before.kvfree_objects_freed),
            s.kvfree_objects_freed_by_owner.saturating_sub(self.stats_before.kvfree_objects_freed_by_owner)
        )?;
        match &self.roaming {
            Some(r) => writeln!(
                f,
                "  roaming sections: {} hand-off readers, reads {} (ended by a partner thread); \
                 {} async tasks on {} workers, reads {} (held across .await, {} ended on another worker)",
                r.handoff_readers, r.handoff_reads, r.async_tasks, r.async_workers, r.async_reads, r.async_migrations
            )?,
            None => writeln!(f, "  roaming sections: not applicable (this flavour's guards are not Send)")?,
        }
        writeln!(f, "  {:<32} {:>10} {:>10}", "retire path", "steps", "dropped")?;
        for p in &self.paths {
            writeln!(f, "  {:<32} {:>10} {:>10}", p.name, p.steps, p.dropped)?;
        }
        writeln!(f, "  {:<32} {:>10} {:>10}", "other objects", "created", "dropped")?;
        for (source, created, dropped) in &self.ledgers {
            writeln!(f, "  {source:<32} {created:>10} {dropped:>10}")?;
        }
        writeln!(
            f,
            "  engine: callbacks invoked {} (peak backlog {}), rcu_barrier {} (chained links {}), kvfree freed {} \
             (blocks sealed: full {} timer {} barrier {} thread exit {}), emergency synchronize {} reserve {}",
            m.callbacks_invoked,
            s.peak_callback_backlog,
            m.barriers,
            self.chain_links,
            m.kvfree_freed,
            s.kvfree_blocks_sealed.full.saturating_sub(self.stats_before.kvfree_blocks_sealed.full),
            s.kvfree_blocks_sealed.timer.saturating_sub(self.stats_before.kvfree_blocks_sealed.timer),
            s.kvfree_blocks_sealed.barrier.saturating_sub(self.stats_before.kvfree_blocks_sealed.barrier),
            s.kvfree_blocks_sealed.thread_exit.saturating_sub(self.stats_before.kvfree_blocks_sealed.thread_exit),
            m.emergency_synchronize,
            m.emergency_reserve
        )?;
        writeln!(
            f,
            "  flood: {} bursts, {} calls; RSS baseline {:.1} MiB, peak {:.1} MiB, ceiling {:.1} MiB ({} samples)",
            self.flood_bursts,
            self.flood_calls,
            mib(self.rss_baseline),
            mib(self.rss_peak),
            mib(self.rss_ceiling),
            self.rss_samples
        )?;
        write!(f, "  age histogram:")?;
        for (age, n) in self.histogram.0.iter().enumerate() {
            write!(f, " {age}:{n}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  tokens created {}, dropped {} ({} never retired), dropped early {}; reads that found a freed or aged element {}",
            self.created, self.dropped, self.dropped_unretired, self.early_drops, self.bad_reads
        )?;
        let problems = self.problems();
        if problems.is_empty() {
            write!(
                f,
                "  PASS: no element reached while freed, no early drop, no age >= 2, created == dropped after rcu_barrier \
                 (every path and source), engine counters agree, no watchdog report"
            )
        } else {
            write!(f, "  FAIL:")?;
            for p in problems {
                write!(f, "\n    {p}")?;
            }
            Ok(())
        }
    }
}
