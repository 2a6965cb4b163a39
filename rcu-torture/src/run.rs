//! One torture run of one flavour: start every thread, watch them, stop
//! them, account for every token.

use crate::board::{Board, IDLE};
use crate::ceiling::RssWatch;
use crate::check::CellValue;
use crate::failures::panic_text;
use crate::flood::{flooder, FloodShape, FLOOD_LIMITS};
use crate::label::RunLabel;
use crate::ledger::Source;
use crate::path::name::FLOOD;
use crate::paths::{all_paths, sabotage_paths};
use crate::report::{PathTally, Report, RoamingTally};
use crate::roaming::{async_readers, handoff_reader, Roaming, ASYNC_WORKERS};
use crate::threads::{churn, reader, stuck_reader, updater};
use crate::writer::{Writer, WriterOutcome};
use rcu_core::{BarrierStrategy, RcuCell, RcuFlavour};
use rcu_testkit::arena::{Arena, MAX_PATHS, PIPE_LEN};
use std::sync::atomic::Ordering;
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

/// The exit status of a process whose watchdog found a hang.
pub const HANG_EXIT_STATUS: i32 = 3;

/// The smallest pool: the two published elements, a full pipeline of
/// cooling ones, and slack.
pub const MIN_POOL: usize = PIPE_LEN as usize + 6;

/// The default memory ceiling above the starting RSS (see `ceiling.rs`):
/// the flood under its tightened limits (`flood::FLOOD_LIMITS`) stays a
/// few MiB above the baseline, while a flood the engine failed to throttle
/// grows without bound, so a generous ceiling still bites within a burst.
pub const DEFAULT_RSS_HEADROOM: u64 = 64 << 20;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long the threads run, at least: the run goes on until every
    /// enabled path has completed a step (bounded by the watchdog).
    pub duration: Duration,
    /// Seeds every random decision.
    pub seed: u64,
    /// Reader threads.
    pub readers: usize,
    /// Extra updater threads (`synchronize_rcu` only).
    pub updaters: usize,
    /// Threads that keep starting short-lived registered threads.
    pub churners: usize,
    /// Pool elements (at least [`MIN_POOL`]).
    pub pool_size: usize,
    /// The hang bound: no grace period (or no writer step, or no thread
    /// exit after the stop) for this long is a hang.
    pub watchdog: Duration,
    /// Retire paths to rotate through, by name; empty means all.
    pub paths: Vec<String>,
    /// Fail unless the flavour reports this barrier strategy.
    pub expect_barrier: Option<BarrierStrategy>,
    /// Add the deliberately broken paths (`paths::sabotage_paths`) to the
    /// table: the run is then expected to fail.
    pub sabotage: bool,
    /// Add a reader that enters a section and never leaves while the run
    /// lasts: grace periods stall, and the watchdog must report the hang.
    pub stuck_reader: bool,
    /// The memory ceiling: RSS may grow this many bytes above its value
    /// at the start of the run.
    pub rss_headroom: u64,
    /// Flood threads (0: no flood, and the backlog limits stay as they are).
    pub flooders: usize,
    /// How they flood.
    pub flood: FloodShape,
    /// Flood from inside read-side sections, where nothing throttles and
    /// nothing is reclaimed: the run is then expected to break the memory
    /// ceiling (shows the ceiling check can fail).
    pub sabotage_flood: bool,
    /// Hand-off reader threads (each with a partner thread that ends its
    /// sections), for flavours whose guards are `Send` ([`run_roaming`]);
    /// [`run`] has none.
    pub handoff_readers: usize,
    /// Async reader tasks on a multi-thread runtime, for flavours whose
    /// guards are `Send` ([`run_roaming`]); [`run`] has none. 0: no runtime.
    pub async_readers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            duration: Duration::from_secs(10),
            seed: 1,
            readers: 3,
            updaters: 2,
            churners: 1,
            pool_size: 64,
            watchdog: Duration::from_secs(60),
            paths: Vec::new(),
            expect_barrier: None,
            sabotage: false,
            stuck_reader: false,
            rss_headroom: DEFAULT_RSS_HEADROOM,
            flooders: 1,
            flood: FloodShape { burst: Duration::from_millis(250), rest: Duration::from_secs(1) },
            sabotage_flood: false,
            handoff_readers: 1,
            async_readers: 4,
        }
    }
}

/// A configuration that cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Indices (table order) of the paths `names` selects; all if empty.
fn select_paths(table: &[&'static str], names: &[String]) -> Result<Vec<usize>, ConfigError> {
    if names.is_empty() {
        return Ok((0..table.len()).collect());
    }
    names
        .iter()
        .map(|n| {
            table
                .iter()
                .position(|t| t == n)
                .ok_or_else(|| ConfigError(format!("unknown retire path `{n}`; the paths are: {}", table.join(", "))))
        })
        .collect()
}

/// The readers whose sections roam (`roaming.rs`), instantiated for a
/// flavour that allows them.
#[derive(Clone, Copy)]
struct RoamingReaders {
    handoff: fn(&'static Board, u64),
    asynchronous: fn(&'static Board, usize),
}

/// Runs the torture test of flavour `F` with `config`, every section
/// opened and ended on one thread (`config.handoff_readers` and
/// `config.async_readers` do not apply).
///
/// A hang does not return: the watchdog prints the flavour's grace-period
/// state and exits the process with [`HANG_EXIT_STATUS`] (hung threads
/// cannot be joined).
pub fn run<F: RcuFlavour>(config: &Config) -> Result<Report, ConfigError> {
    run_with::<F>(config, None)
}

/// [`run`], plus the readers whose sections roam for a flavour whose
/// guards are `Send`: `config.handoff_readers` hand-off readers and
/// `config.async_readers` async reader tasks (`roaming.rs`).
pub fn run_roaming<F>(config: &Config) -> Result<Report, ConfigError>
where
    F: Roaming,
    for<'t> F::Guard<'t>: Send,
{
    run_with::<F>(config, Some(RoamingReaders { handoff: handoff_reader::<F>, asynchronous: async_readers::<F> }))
}

fn run_with<F: RcuFlavour>(config: &Config, roaming: Option<RoamingReaders>) -> Result<Report, ConfigError> {
    if config.pool_size < MIN_POOL {
        return Err(ConfigError(format!("the pool needs at least {MIN_POOL} elements (got {})", config.pool_size)));
    }
    let mut paths = all_paths::<F>();
    if config.sabotage {
        paths.extend(sabotage_paths::<F>());
    }
    let names: Vec<&'static str> = paths.iter().map(|p| p.name).collect();
    assert!(names.len() <= MAX_PATHS, "torture bug: more than {MAX_PATHS} retire paths");
    let enabled = select_paths(&names, &config.paths)?;
    let label = RunLabel { flavour: F::NAME, seed: config.seed };
    let stats_before = F::stats();
    let arena = Arena::leak_checked(config.pool_size, F::poll_state_synchronize_rcu);
    let board = Board::leak(label, arena, 0, names.clone(), RssWatch::starting_now(config.rss_headroom));
    let cell = RcuCell::<CellValue, F>::new(CellValue::new(arena.mint(1)));
    crate::crash::arm(board);
    let limits_before = F::callback_limits();
    if config.flooders > 0 {
        F::set_callback_limits(FLOOD_LIMITS);
    }
    let start = Instant::now();

    let outcome = std::thread::scope(|s| {
        let writer = {
            let (cell, paths, enabled) = (&cell, &paths, enabled.clone());
            let first = arena.mint(0);
            s.spawn(move || Writer::new(board, cell, paths, enabled, first, 1).run())
        };
        let mut others: Vec<(String, ScopedJoinHandle<'_, ()>)> = Vec::new();
        for i in 0..config.readers as u64 {
            let cell = &cell;
            others.push((format!("reader {i}"), s.spawn(move || reader::<F>(board, cell, i))));
        }
        for i in 0..config.updaters as u64 {
            others.push((format!("updater {i}"), s.spawn(move || updater::<F>(board, i))));
        }
        for i in 0..config.churners as u64 {
            let cell = &cell;
            others.push((format!("churn {i}"), s.spawn(move || churn::<F>(board, cell, i))));
        }
        for i in 0..config.flooders as u64 {
            let (flood, unbounded) = (config.flood, config.sabotage_flood);
            others.push((format!("flood {i}"), s.spawn(move || flooder::<F>(board, i, flood, unbounded))));
        }
        if let Some(r) = roaming {
            for i in 0..config.handoff_readers as u64 {
                others.push((format!("hand-off reader {i}"), s.spawn(move || (r.handoff)(board, i))));
            }
            if config.async_readers > 0 {
                let tasks = config.async_readers;
                others.push(("async readers".to_owned(), s.spawn(move || (r.asynchronous)(board, tasks))));
            }
        }
        if config.stuck_reader {
            others.push(("stuck reader".to_owned(), s.spawn(move || stuck_reader::<F>(board))));
        }
        let every_path = enabled.iter().fold(0u64, |mask, &p| mask | 1 << p);
        watch::<F>(board, config, start, every_path, &writer, &others);
        for (name, handle) in others {
            if let Err(panic) = handle.join() {
                board.fail("-", format_args!("{name} panicked: {}", panic_text(&*panic)));
            }
        }
        match writer.join() {
            Ok(outcome) => Some(outcome),
            Err(panic) => {
                let path = board.path_name(Some(board.progress.writer_path.load(Ordering::Relaxed)));
                board.fail(path, format_args!("the writer panicked: {}", panic_text(&*panic)));
                None
            }
        }
    });
    let elapsed = start.elapsed();

    // Every thread has exited: no reader remains, but the published
    // elements are still formally under RCU. One grace period, then drop.
    F::synchronize_rcu();
    let path_steps = match outcome {
        Some(WriterOutcome { pointer_token, path_counts }) => {
            drop(pointer_token);
            path_counts
        }
        None => vec![0; names.len()],
    };
    drop(cell);
    // Tokens and retirees still queued in callbacks or kvfree blocks
    // (partial ones included) are dropped before this returns. No callback
    // queues another at this point (the chain path waits for its whole
    // chain), so one barrier suffices.
    F::rcu_barrier();
    board.report_early_drops();
    F::set_kvfree_drain_interval(rcu_core::kvfree::DEFAULT_DRAIN_INTERVAL);
    F::set_callback_limits(limits_before);
    crate::crash::disarm();
    board.sample_rss(FLOOD, "the end of the run");

    let p = &board.progress;
    Ok(Report {
        flavour: F::NAME,
        seed: config.seed,
        elapsed,
        threads: (config.readers, config.updaters, config.churners),
        reads: p.reads.load(Ordering::Relaxed),
        roaming: roaming.map(|_| RoamingTally {
            handoff_readers: config.handoff_readers,
            handoff_reads: p.handoff_reads.load(Ordering::Relaxed),
            async_tasks: config.async_readers,
            async_workers: ASYNC_WORKERS,
            async_reads: p.async_reads.load(Ordering::Relaxed),
            async_migrations: p.async_migrations.load(Ordering::Relaxed),
        }),
        writer_steps: p.writer_steps.load(Ordering::Relaxed),
        writer_stalls: p.writer_stalls.load(Ordering::Relaxed),
        paths: enabled
            .iter()
            .map(|&i| PathTally { name: names[i], steps: path_steps[i], dropped: arena.dropped_by_path(i) })
            .collect(),
        updater_synchronizes: p.updater_synchronizes.load(Ordering::Relaxed),
        churned_threads: p.churned_threads.load(Ordering::Relaxed),
        churn_pending: p.churn_pending.load(Ordering::Relaxed),
        late_reads: p.late_reads.load(Ordering::Relaxed),
        chain_links: p.chain_links.load(Ordering::Relaxed),
        flooders: config.flooders,
        flood_bursts: p.flood_bursts.load(Ordering::Relaxed),
        flood_calls: p.flood_calls.load(Ordering::Relaxed),
        rss_baseline: board.rss.baseline,
        rss_peak: board.rss.peak(),
        rss_ceiling: board.rss.ceiling,
        rss_samples: board.rss.samples(),
        histogram: board.histogram.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        bad_reads: p.bad_reads.load(Ordering::Relaxed),
        early_drops: arena.early_drops(),
        created: arena.created(),
        dropped: arena.dropped(),
        dropped_unretired: arena.dropped_unretired(),
        ledgers: Source::ALL
            .iter()
            .map(|&s| {
                let l = board.ledgers.of(s);
                (s.name(), l.created(), l.dropped())
            })
            .collect(),
        stats_before,
        stats: F::stats(),
        expected_barrier: config.expect_barrier,
        failures: board.failures.messages(),
        failure_count: board.failures.count(),
        failed_paths: board.failures.paths(),
    })
}

/// The watchdog: stops the run when its time is up and every path has run,
/// and turns a hang into a report and an exit instead of waiting forever.
fn watch<F: RcuFlavour>(
    board: &Board,
    config: &Config,
    start: Instant,
    every_path: u64,
    writer: &ScopedJoinHandle<'_, WriterOutcome>,
    others: &[(String, ScopedJoinHandle<'_, ()>)],
) {
    let tick = Duration::from_millis(50).min(config.watchdog / 4);
    let mut last_gp = (F::stats().grace_periods, Instant::now());
    let mut last_step = (0, Instant::now());
    let mut stopped_at: Option<Instant> = None;
    loop {
        std::thread::sleep(tick);
        let now = Instant::now();
        // The duration is a minimum: the run goes on until every enabled
        // path has run once (a slow machine, a sanitizer), the watchdog
        // bounding a writer that makes no progress at all.
        let all_ran = board.progress.paths_ran.load(Ordering::Relaxed) & every_path == every_path;
        if stopped_at.is_none() && now.duration_since(start) >= config.duration && all_ran {
            // Relaxed: threads poll the flag; see `Board::stopping`.
            board.stop.store(true, Ordering::Relaxed);
            stopped_at = Some(now);
        }
        let unfinished: Vec<&str> = std::iter::once(("writer", writer.is_finished()))
            .chain(others.iter().map(|(n, h)| (n.as_str(), h.is_finished())))
            .filter(|(_, done)| !done)
            .map(|(n, _)| n)
            .collect();
        if unfinished.is_empty() {
            return;
        }
        board.sample_rss(FLOOD, "the watchdog");
        board.report_early_drops();
        let gp = F::stats().grace_periods;
        if gp != last_gp.0 {
            last_gp = (gp, now);
        }
        let steps = board.progress.writer_steps.load(Ordering::Relaxed);
        if steps != last_step.0 {
            last_step = (steps, now);
        }
        let bound = config.watchdog;
        match stopped_at {
            None if now.duration_since(last_gp.1) > bound => {
                hang::<F>(board, format_args!("no grace period completed for {} s", bound.as_secs_f64()))
            }
            None if now.duration_since(last_step.1) > bound => hang::<F>(
                board,
                format_args!(
                    "the writer made no progress for {} s ({} stalls waiting for a reusable element)",
                    bound.as_secs_f64(),
                    board.progress.writer_stalls.load(Ordering::Relaxed)
                ),
            ),
            Some(at) if now.duration_since(at) > bound => hang::<F>(
                board,
                format_args!(
                    "{} thread(s) did not finish within {} s of the stop: {}",
                    unfinished.len(),
                    bound.as_secs_f64(),
                    unfinished.join(", ")
                ),
            ),
            _ => {}
        }
    }
}

/// Prints the hang, the flavour's grace-period state and the failures so
/// far, and exits the process.
fn hang<F: RcuFlavour>(board: &Board, what: std::fmt::Arguments<'_>) -> ! {
    let path = match board.progress.writer_path.load(Ordering::Relaxed) {
        IDLE => "-",
        p => board.path_name(Some(p)),
    };
    let RunLabel { flavour, seed } = board.label;
    eprintln!("HANG [flavour={flavour} path={path} seed={seed}] watchdog: {what}");
    eprintln!("{}", F::state_report());
    eprintln!("torture threads: {}", board.thread_names());
    for m in board.failures.messages() {
        eprintln!("  earlier failure: {m}");
    }
    eprintln!("rcu-torture: FAIL (watchdog); rerun with --seed {seed} --flavour {flavour}");
    std::process::exit(HANG_EXIT_STATUS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_selection_accepts_table_names_and_names_the_choices_otherwise() {
        let table = ["a", "b", "c"];
        assert_eq!(select_paths(&table, &[]).unwrap(), vec![0, 1, 2]);
        assert_eq!(select_paths(&table, &["c".into(), "a".into()]).unwrap(), vec![2, 0]);
        let err = select_paths(&table, &["x".into()]).unwrap_err();
        assert!(err.0.contains("unknown retire path `x`") && err.0.contains("a, b, c"), "{err}");
    }
}
