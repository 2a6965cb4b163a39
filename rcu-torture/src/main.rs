//! `rcu-torture`: the torture test binary (see the library docs).
//!
//! ```text
//! cargo run --release -p rcu-torture -- --quick
//! cargo run --release -p rcu-torture -- --flavour qsbr --duration 60 --seed 7
//! ```

use clap::{Parser, ValueEnum};
use rcu_core::{BarrierStrategy, RcuFlavour};
use rcu_memb::Memb;
use rcu_qsbr::Qsbr;
use rcu_torture::roaming::Roaming;
use rcu_torture::{run, run_roaming, Config, ConfigError, Report};
use std::process::ExitCode;
use std::time::Duration;

/// One flavour's run, as the table below holds it.
type RunOne = fn(&Config) -> Result<Report, String>;

/// The flavours `--flavour` picks from, by name, in the order `all` runs
/// them. Torturing another flavour takes one line here: `run_one` for a
/// flavour whose sections stay on their thread, `run_one_roaming` for one
/// whose guards are `Send` (it adds the hand-off and async readers, and
/// does not compile for a flavour whose guards are not).
const FLAVOURS: &[(&str, RunOne)] =
    &[("memb", run_one::<Memb>), ("qsbr", run_one::<Qsbr>), ("srcu", run_one_roaming::<rcu_srcu::Srcu>)];

/// `--flavour` for every flavour of [`FLAVOURS`].
const ALL: &str = "all";
/// Another name for `all`, accepted so that scripts written for it keep working.
const ALL_ALIAS: &str = "both";

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum BarrierArg {
    Membarrier,
    Fences,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum DenyArg {
    Eperm,
    Enosys,
}

/// Torture test of the userspace RCU flavours: readers check that nothing
/// they can reach is reclaimed early while a writer retires elements
/// through every retire path (synchronous, polled, call_rcu, call_rcu_raw,
/// chained callbacks with rcu_barrier, kvfree_rcu of boxes and vectors, the
/// kvfree emergency branches), extra updaters share grace periods, churn
/// threads exit with objects pending, and a flood tests backpressure under a
/// memory ceiling.
///
/// Passes (exit 0) when no element was reached while freed, nothing was
/// dropped before its grace period, no reader saw an age of 2 or more,
/// everything created was dropped after the final rcu_barrier (per path and
/// per source), the engine's counters agree, RSS stayed under the ceiling and
/// the watchdog saw no hang. Exit 1 on failure, 3 on a hang (after printing
/// the grace-period state). Every failure message names the flavour, the
/// path and the seed; rerun with the same --seed to replay the run's random
/// decisions.
#[derive(Debug, Parser)]
#[command(name = "rcu-torture", version)]
struct Args {
    /// Which flavour to torture (`all`: each in turn).
    #[arg(long, default_value = ALL, value_parser = flavour_names())]
    flavour: String,
    /// Seconds per flavour, at least: a run goes on until every selected
    /// path has run once [default: 10, or 3 with --quick].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Seeds every random decision [default: from the clock, printed].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Reader threads [default: 3, or 2 with --quick].
    #[arg(long, value_name = "N")]
    readers: Option<usize>,
    /// Extra updater threads that only call synchronize_rcu [default: 2, or 1 with --quick].
    #[arg(long, value_name = "N")]
    updaters: Option<usize>,
    /// Hand-off reader threads, each with a partner thread that ends the
    /// sections it opens (flavours whose guards are Send: srcu; not
    /// applicable to the others).
    #[arg(long, value_name = "N", default_value_t = Config::default().handoff_readers)]
    handoff_readers: usize,
    /// Async reader tasks holding sections across .await on a two-worker
    /// tokio runtime (0: no runtime; flavours whose guards are Send: srcu;
    /// not applicable to the others).
    #[arg(long, value_name = "N", default_value_t = Config::default().async_readers)]
    async_readers: usize,
    /// Threads that keep starting short-lived registered threads.
    #[arg(long, value_name = "N", default_value_t = 1)]
    churners: usize,
    /// Threads that flood call_rcu and kvfree_rcu in bursts (0: no flood).
    #[arg(long, value_name = "N", default_value_t = 1)]
    flooders: usize,
    /// Length of one flood burst, in milliseconds (a rest of about four
    /// times as long follows each).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    flood_ms: u64,
    /// Elements in the pool readers reach.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pool: usize,
    /// Seconds without a completed grace period (or writer step) that count as a hang.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    watchdog: u64,
    /// A short run: 3 s per flavour, fewer threads.
    #[arg(long)]
    quick: bool,
    /// Rotate through this retire path only (repeatable) [default: all]; see --list-paths.
    #[arg(long = "path", value_name = "NAME")]
    paths: Vec<String>,
    /// The memory ceiling: a run fails if its RSS (sampled from
    /// /proc/self/status) grows more than this many MiB above its value at
    /// the start of the run.
    #[arg(long, value_name = "MIB", default_value_t = rcu_torture::DEFAULT_RSS_HEADROOM >> 20)]
    rss_headroom_mib: u64,
    /// Print the retire paths and exit.
    #[arg(long)]
    list_paths: bool,
    /// Also rotate through deliberately broken retire paths (the run must
    /// then fail: shows the checks catch an early free).
    #[arg(long)]
    sabotage: bool,
    /// Add a reader that never leaves its read-side section (the watchdog
    /// must then report a hang and exit with status 3).
    #[arg(long)]
    sabotage_hang: bool,
    /// Flood from inside read-side sections, where the engine may not
    /// throttle and nothing is reclaimed (the run must then break the
    /// memory ceiling: shows the ceiling check bites).
    #[arg(long)]
    sabotage_flood: bool,
    /// Fail unless the flavours report this barrier strategy.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    expect_barrier: Option<BarrierArg>,
    /// Install a seccomp filter that makes membarrier(2) fail with this errno
    /// before anything else runs (shows the fence fallback).
    #[arg(long, value_enum, value_name = "ERRNO")]
    deny_membarrier: Option<DenyArg>,
}

impl Args {
    fn config(&self, seed: u64) -> Config {
        let defaults = Config::default();
        let duration = self.duration.unwrap_or(if self.quick { 3.0 } else { 10.0 });
        Config {
            duration: Duration::from_secs_f64(duration.max(0.0)),
            seed,
            readers: self.readers.unwrap_or(if self.quick { 2 } else { defaults.readers }),
            updaters: self.updaters.unwrap_or(if self.quick { 1 } else { defaults.updaters }),
            churners: self.churners,
            pool_size: self.pool,
            watchdog: Duration::from_secs(self.watchdog.max(1)),
            paths: self.paths.clone(),
            sabotage: self.sabotage,
            stuck_reader: self.sabotage_hang,
            rss_headroom: self.rss_headroom_mib.saturating_mul(1 << 20),
            flooders: self.flooders,
            sabotage_flood: self.sabotage_flood,
            handoff_readers: self.handoff_readers,
            async_readers: self.async_readers,
            flood: rcu_torture::flood::FloodShape {
                burst: Duration::from_millis(self.flood_ms),
                rest: Duration::from_millis(self.flood_ms.saturating_mul(4)),
            },
            expect_barrier: self.expect_barrier.map(|b| match b {
                BarrierArg::Membarrier => BarrierStrategy::Membarrier,
                BarrierArg::Fences => BarrierStrategy::Fences,
            }),
        }
    }
}

fn clock_seed() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    now.as_secs() ^ u64::from(now.subsec_nanos()) ^ u64::from(std::process::id()) << 32
}

/// Installs the membarrier filter and checks that it bites.
fn deny_membarrier(which: DenyArg) -> Result<(), String> {
    let errno = match which {
        DenyArg::Eperm => libc::EPERM,
        DenyArg::Enosys => libc::ENOSYS,
    };
    rcu_testkit::seccomp::deny_membarrier(errno).map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
    match rcu_testkit::seccomp::query_membarrier() {
        Err(got) if got == errno => {
            println!("rcu-torture: membarrier(2) denied by seccomp (errno {errno})");
            Ok(())
        }
        other => Err(format!("the seccomp filter is not in force: membarrier(QUERY) returned {other:?}")),
    }
}

/// This run's command line for one flavour with its seed (other options
/// kept as given).
fn reproduce_command(flavour: &str, seed: u64) -> String {
    let mut kept = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" | "--flavour" => {
                args.next();
            }
            _ if a.starts_with("--seed=") || a.starts_with("--flavour=") => {}
            _ => kept.push(if a.contains(' ') { format!("'{a}'") } else { a }),
        }
    }
    format!("rcu-torture {} --flavour {flavour} --seed {seed}", kept.join(" "))
}

/// `--flavour`'s choices: every flavour's name, and `all`.
fn flavour_names() -> clap::builder::PossibleValuesParser {
    let alias = clap::builder::PossibleValue::new(ALL_ALIAS).hide(true);
    let names = FLAVOURS.iter().map(|(name, _)| clap::builder::PossibleValue::new(*name));
    clap::builder::PossibleValuesParser::new(names.chain([clap::builder::PossibleValue::new(ALL), alias]))
}

fn run_one<F: RcuFlavour>(config: &Config) -> Result<Report, String> {
    print_report::<F>(config, run::<F>(config))
}

fn run_one_roaming<F>(config: &Config) -> Result<Report, String>
where
    F: Roaming,
    for<'t> F::Guard<'t>: Send,
{
    print_report::<F>(config, run_roaming::<F>(config))
}

fn print_report<F: RcuFlavour>(config: &Config, run: Result<Report, ConfigError>) -> Result<Report, String> {
    let report = run.map_err(|e| format!("FAIL [flavour={} path=- seed={}] cannot run: {e}", F::NAME, config.seed))?;
    println!("{report}");
    Ok(report)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(which) = args.deny_membarrier {
        if let Err(e) = deny_membarrier(which) {
            eprintln!("rcu-torture: {e}");
            return ExitCode::FAILURE;
        }
    }
    if args.list_paths {
        for p in rcu_torture::paths::all_paths::<Memb>() {
            println!("{}", p.name);
        }
        for p in rcu_torture::paths::sabotage_paths::<Memb>() {
            println!("{} (with --sabotage only; must fail)", p.name);
        }
        return ExitCode::SUCCESS;
    }
    let seed = args.seed.unwrap_or_else(clock_seed);
    let config = args.config(seed);
    println!(
        "rcu-torture: seed {seed}, {:.1} s per flavour (rerun with --seed {seed} to replay the random decisions)",
        config.duration.as_secs_f64()
    );
    let outcomes: Vec<(&str, Result<Report, String>)> = FLAVOURS
        .iter()
        .filter(|(name, _)| [ALL, ALL_ALIAS].contains(&args.flavour.as_str()) || args.flavour == *name)
        .map(|(name, run_one)| (*name, run_one(&config)))
        .collect();
    let mut failed = Vec::new();
    for (flavour, outcome) in &outcomes {
        match outcome {
            Ok(report) if report.passed() => {}
            Ok(report) => failed.push(format!(
                "rcu-torture: FAIL [flavour={flavour} paths={} seed={seed}] reproduce: {}",
                report.failing_paths().join(","),
                reproduce_command(flavour, seed)
            )),
            Err(e) => failed.push(format!("rcu-torture: {e}")),
        }
    }
    let flavours: Vec<&str> = outcomes.iter().map(|(f, _)| *f).collect();
    if failed.is_empty() {
        println!("rcu-torture: PASS ({})", flavours.join(", "));
        ExitCode::SUCCESS
    } else {
        for line in failed {
            println!("{line}");
        }
        ExitCode::FAILURE
    }
}
