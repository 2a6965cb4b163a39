//! `rcu-bench`: the throughput harness (see the library's modules for the
//! methodology of each subcommand, and BENCHMARKS.md).

use clap::{Parser, Subcommand};
use rcu_bench::compare::{compare, CompareConfig};
use rcu_bench::config::ConfigRunConfig;
use rcu_bench::flood::{format_table, run_flood_here, run_flood_in_child, FloodConfig, FloodKind};
use rcu_bench::implementations::Implementation;
use rcu_bench::kvfree_flood;
use rcu_bench::report::{format_csv, format_text, Results};
use rcu_bench::run::{default_warmup, run, RetireMode, RunConfig};
use rcu_bench::server::holders::HOLDERS;
use rcu_bench::server::ServerRunConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Userspace RCU benchmarks: rcu-memb and rcu-qsbr beside crossbeam-epoch
/// and (feature `liburcu`) liburcu's urcu-memb and urcu-qsbr.
#[derive(Parser, Debug)]
#[command(name = "rcu-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// liburcu test_urcu's throughput test: readers dereference a published
    /// node, writers replace it and retire the old one, for a fixed time.
    /// Prints liburcu's SUMMARY line, then details.
    Run {
        /// rcu-memb, rcu-qsbr, crossbeam-epoch, liburcu-memb, liburcu-qsbr
        /// (short: memb, qsbr, epoch).
        #[arg(value_parser = Implementation::from_name)]
        implementation: Implementation,
        /// Reader threads.
        nr_readers: usize,
        /// Writer threads.
        nr_writers: usize,
        /// Measured seconds (fractions allowed), after the warm-up.
        #[arg(value_parser = parse_seconds)]
        duration: Duration,
        /// Writer delay between updates, busy-loop iterations.
        #[arg(short = 'd', default_value_t = 0)]
        wdelay: u64,
        /// Read-side critical section length, busy-loop iterations.
        #[arg(short = 'c', default_value_t = 0)]
        read_cs_len: u64,
        /// Write-side critical section length, busy-loop iterations.
        #[arg(short = 'e', default_value_t = 0)]
        write_cs_len: u64,
        /// Retirements per grace period (-m sync), as test_urcu_gc -b.
        #[arg(short = 'b', default_value_t = 1)]
        batch: usize,
        /// How writers retire the old node.
        #[arg(short = 'm', value_enum, default_value_t = RetireMode::Sync)]
        mode: RetireMode,
        /// Warm-up seconds before the measured window [default: 10% of
        /// the duration, at most 1].
        #[arg(long, value_parser = parse_seconds)]
        warmup: Option<Duration>,
        /// Do not pin threads to CPUs (test_urcu's default without -a).
        #[arg(long)]
        no_pin: bool,
    },
    /// The kernel rcuscale kfree shape: threads allocate small objects and
    /// retire each through a deferred free; total time, grace periods,
    /// objects per grace period, peak RSS. Each kind runs in its own child
    /// process.
    Flood {
        /// Kinds to run (repeat; default: every kind built in). See `list`.
        #[arg(long = "kind", value_parser = FloodKind::from_name)]
        kinds: Vec<FloodKind>,
        /// Threads allocating and retiring.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Objects per thread.
        #[arg(long, default_value_t = 2_000_000)]
        objects: u64,
        /// Kind whose throughput and RSS the others are divided by.
        #[arg(long)]
        baseline: Option<String>,
        /// Do not pin threads to CPUs.
        #[arg(long)]
        no_pin: bool,
    },
    /// Issue 30's flood: threads box 32-byte objects whose drops are
    /// counted and hand each to `kvfree_rcu` (memb, qsbr, srcu), then
    /// `rcu_barrier`; beside the plain allocate-and-drop loop on the same
    /// threads. Time and peak RSS per kind, each in its own child process,
    /// with ratios to the plain loop; `--latency` times every call.
    KvfreeFlood {
        /// Kinds to run (repeat): plain, memb, qsbr, srcu [default: all].
        #[arg(long = "kind", value_parser = kvfree_flood::Kind::from_name)]
        kinds: Vec<kvfree_flood::Kind>,
        /// Producer threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Objects per producer.
        #[arg(long, default_value_t = 2_000_000)]
        objects: u64,
        /// Time every call into a histogram: p50, p99, p99.9, max.
        #[arg(long)]
        latency: bool,
        /// Do not pin producers to CPUs.
        #[arg(long)]
        no_pin: bool,
    },
    /// Runs one kvfree-flood kind in this process and prints a
    /// KVFREE_FLOOD line (used by `kvfree-flood`).
    #[command(hide = true)]
    KvfreeFloodOne {
        #[arg(long, value_parser = kvfree_flood::Kind::from_name)]
        kind: kvfree_flood::Kind,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        objects: u64,
        #[arg(long)]
        latency: bool,
        #[arg(long)]
        no_pin: bool,
    },
    /// Runs one flood kind in this process and prints a FLOOD line (used by
    /// `flood` and `compare`, one child process per kind).
    #[command(hide = true)]
    FloodOne {
        #[arg(long, value_parser = FloodKind::from_name)]
        kind: FloodKind,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        objects: u64,
        #[arg(long)]
        no_pin: bool,
    },
    /// The fixed suite over every implementation, interleaved over rounds,
    /// with ratios to the baselines.
    Compare {
        /// A few seconds in all (noisy figures): for CI and trying it out.
        #[arg(long)]
        quick: bool,
        /// Rounds (default 5, quick 2).
        #[arg(long)]
        rounds: Option<usize>,
        /// Implementations and flood kinds to divide by (repeat) [default:
        /// liburcu-memb, liburcu-qsbr, liburcu-memb-call_rcu when built with
        /// liburcu; crossbeam-epoch and its flood kind always].
        #[arg(long = "baseline")]
        baselines: Vec<String>,
        /// Print CSV (name,metric,median,min,max,rounds) on stdout; the text
        /// tables then go to stderr, so one run gives both.
        #[arg(long)]
        csv: bool,
        /// Write an SVG chart of the results here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Skip the flood part.
        #[arg(long)]
        no_flood: bool,
        /// Do not pin threads to CPUs.
        #[arg(long)]
        no_pin: bool,
    },
    /// A configuration value read by N threads while one thread reloads it
    /// every millisecond: RcuCell (memb, QSBR) beside arc-swap, crossbeam-
    /// epoch and RwLock<Arc<T>>, plus the rayon pool lookup row;
    /// interleaved over rounds, with ratios to arc-swap's `load`.
    Config {
        /// Reader threads.
        #[arg(long, default_value_t = 2)]
        readers: usize,
        /// Measured seconds per kind and round (fractions allowed).
        #[arg(long, value_parser = parse_seconds, default_value = "3")]
        duration: Duration,
        /// Milliseconds between two reloads (fractions allowed).
        #[arg(long, default_value_t = 1.0)]
        reload_ms: f64,
        /// Rounds.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Workers of the rayon pool in the par_iter rows.
        #[arg(long, default_value_t = 2)]
        pool_threads: usize,
        /// Write an SVG chart of the results here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Print CSV on stdout (the text tables then go to stderr).
        #[arg(long)]
        csv: bool,
        /// Do not pin threads to CPUs.
        #[arg(long)]
        no_pin: bool,
    },
    /// Grace-period rows: 4 threads calling synchronize_rcu with no reader
    /// and with one busy reader (calls/s, grace periods per call), and 1
    /// reader + 1 writer; every implementation with synchronize_rcu,
    /// interleaved over rounds, ratios to liburcu (feature `liburcu`).
    Sharing {
        /// synchronize_rcu calls per writer with no reader (a tenth of it
        /// with the busy reader).
        #[arg(long, default_value_t = 100_000)]
        calls: u64,
        /// Rounds.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Measured seconds of each 1 reader + 1 writer run.
        #[arg(long, value_parser = parse_seconds, default_value = "3")]
        duration: Duration,
        /// Print CSV on stdout (the text tables then go to stderr).
        #[arg(long)]
        csv: bool,
        /// Do not pin threads to CPUs.
        #[arg(long)]
        no_pin: bool,
    },
    /// An async HTTP/1.1 server (hyper on tokio, 127.0.0.1) whose routing
    /// table an admin task replaces every 10 ms, loaded by the built-in
    /// load generator: every table holder with reloads on and off,
    /// interleaved over rounds; requests/s, latency p50/p99/p99.9 and
    /// reload latency, ratios to arc-swap-load_full. Exits non-zero if any
    /// response was wrong.
    Server {
        /// Keep-alive client connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Measured seconds per holder, reload mode and round (fractions
        /// allowed).
        #[arg(long, value_parser = parse_seconds, default_value = "3")]
        duration: Duration,
        /// Rounds.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Routes in the table.
        #[arg(long, default_value_t = 256)]
        routes: usize,
        /// Milliseconds between two table replacements (fractions allowed).
        #[arg(long, default_value_t = 10.0)]
        reload_ms: f64,
        /// Worker threads of the server's tokio runtime.
        #[arg(long, default_value_t = 2)]
        server_threads: usize,
        /// Worker threads of the load generator's tokio runtime.
        #[arg(long, default_value_t = 2)]
        client_threads: usize,
        /// Holders to run (repeat; default: all). See `list`.
        #[arg(long = "holder", value_parser = rcu_bench::server::holders::holder_named)]
        holders: Vec<&'static dyn rcu_bench::server::holders::HolderKind>,
        /// Write an SVG chart of the results here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Print CSV on stdout (the text tables then go to stderr).
        #[arg(long)]
        csv: bool,
    },
    /// Lists the implementations, flood kinds and server table holders
    /// built into this binary.
    List,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|e| format!("`{s}` is not a number of seconds: {e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}` seconds: {e}"))
}

fn main() -> ExitCode {
    match real_main(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rcu-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Run {
            implementation,
            nr_readers,
            nr_writers,
            duration,
            wdelay,
            read_cs_len,
            write_cs_len,
            batch,
            mode,
            warmup,
            no_pin,
        } => {
            let mut config = RunConfig::new(implementation, nr_readers, nr_writers, duration);
            config.wdelay = wdelay;
            config.read_cs_len = read_cs_len;
            config.write_cs_len = write_cs_len;
            config.batch = batch;
            config.mode = mode;
            config.pin = !no_pin;
            if let Some(w) = warmup {
                config.warmup = w;
            }
            let report = run(&config)?;
            println!("{}", report.summary_line());
            print!("{}", report.details());
            if report.mismatches != 0 {
                return Err(format!("readers saw {} nodes freed too early", report.mismatches));
            }
            Ok(())
        }
        Command::Flood { kinds, threads, objects, baseline, no_pin } => {
            let kinds = if kinds.is_empty() { FloodKind::all() } else { kinds };
            let config = FloodConfig { threads, objects_per_thread: objects, pin: !no_pin };
            let mut reports = Vec::new();
            for kind in kinds {
                eprintln!("flood: {} ({threads} threads x {objects} objects)", kind.name());
                reports.push(run_flood_in_child(kind, &config)?);
            }
            let baseline = baseline.or_else(|| {
                let preferred = ["liburcu-memb-call_rcu", "crossbeam-epoch-defer_destroy"];
                preferred.into_iter().find(|p| reports.iter().any(|r| r.kind == *p)).map(String::from)
            });
            print!("{}", format_table(&reports, baseline.as_deref()));
            Ok(())
        }
        Command::KvfreeFlood { kinds, threads, objects, latency, no_pin } => {
            let kinds = if kinds.is_empty() { kvfree_flood::Kind::ALL.to_vec() } else { kinds };
            let config = kvfree_flood::Config { threads, objects_per_thread: objects, latency, pin: !no_pin };
            let mut reports = Vec::new();
            for kind in kinds {
                eprintln!("kvfree-flood: {} ({threads} threads x {objects} objects)", kind.name());
                reports.push(kvfree_flood::run_in_child(kind, &config)?);
            }
            reports.iter().for_each(|r| println!("{}", r.to_line()));
            print!("{}", kvfree_flood::format_table(&reports));
            Ok(())
        }
        Command::KvfreeFloodOne { kind, threads, objects, latency, no_pin } => {
            let config = kvfree_flood::Config { threads, objects_per_thread: objects, latency, pin: !no_pin };
            println!("{}", kvfree_flood::run_here(kind, &config)?.to_line());
            Ok(())
        }
        Command::FloodOne { kind, threads, objects, no_pin } => {
            let report = run_flood_here(kind, &FloodConfig { threads, objects_per_thread: objects, pin: !no_pin });
            println!("{}", report.to_line());
            Ok(())
        }
        Command::Config { readers, duration, reload_ms, rounds, pool_threads, svg, csv, no_pin } => {
            let reload_period =
                Duration::try_from_secs_f64(reload_ms / 1e3).map_err(|e| format!("--reload-ms {reload_ms}: {e}"))?;
            if readers == 0 || pool_threads == 0 {
                return Err("--readers and --pool-threads must be at least 1".into());
            }
            let run =
                ConfigRunConfig { readers, duration, warmup: default_warmup(duration), reload_period, pin: !no_pin };
            let config = CompareConfig::config_only(run, rounds.max(1), pool_threads);
            let results = compare(&config, |line| eprintln!("{line}"))?;
            report(&results, &["arc-swap-load".to_string()], csv, svg.as_deref())
        }
        Command::Sharing { calls, rounds, duration, csv, no_pin } => {
            let config = CompareConfig::sharing_only(calls.max(10), rounds.max(1), duration, !no_pin);
            let results = compare(&config, |line| eprintln!("{line}"))?;
            report(&results, &default_baselines(), csv, None)
        }
        Command::Compare { quick, rounds, baselines, csv, svg, no_flood, no_pin } => {
            let mut config = if quick { CompareConfig::quick(!no_pin) } else { CompareConfig::full(!no_pin) };
            if let Some(r) = rounds {
                config.rounds = r.max(1);
            }
            if no_flood {
                config = config.without("flood");
            }
            let baselines = if baselines.is_empty() { default_baselines() } else { baselines };
            let results = compare(&config, |line| eprintln!("{line}"))?;
            report(&results, &baselines, csv, svg.as_deref())
        }
        Command::Server {
            connections,
            duration,
            rounds,
            routes,
            reload_ms,
            server_threads,
            client_threads,
            holders,
            svg,
            csv,
        } => {
            let reload_period =
                Duration::try_from_secs_f64(reload_ms / 1e3).map_err(|e| format!("--reload-ms {reload_ms}: {e}"))?;
            if connections == 0 || routes == 0 || reload_period.is_zero() || duration.is_zero() {
                return Err("--connections, --routes, --reload-ms and --duration must be above 0".into());
            }
            let run = ServerRunConfig {
                connections,
                routes,
                reload_period,
                server_threads: server_threads.max(1),
                client_threads: client_threads.max(1),
                ..ServerRunConfig::new(duration)
            };
            let holders = if holders.is_empty() { HOLDERS.to_vec() } else { holders };
            let config =
                CompareConfig { rounds: rounds.max(1), workloads: rcu_bench::server::workloads(&run, &holders) };
            let results = compare(&config, |line| eprintln!("{line}"))?;
            report(&results, &[rcu_bench::server::BASELINE.to_string()], csv, svg.as_deref())
        }
        Command::List => {
            println!("implementations:");
            for imp in Implementation::all() {
                println!("  {}", imp.name());
            }
            println!("flood kinds:");
            for kind in FloodKind::all() {
                println!("  {}", kind.name());
            }
            println!("server table holders:");
            for holder in HOLDERS {
                println!("  {}", holder.name());
            }
            Ok(())
        }
    }
}

/// Prints the text report (or CSV on stdout, text on stderr) and the chart.
fn report(results: &Results, baselines: &[String], csv: bool, svg: Option<&Path>) -> Result<(), String> {
    if csv {
        print!("{}", format_csv(results));
        eprint!("{}", format_text(results, baselines));
    } else {
        print!("{}", format_text(results, baselines));
    }
    if let Some(path) = svg {
        rcu_bench::report::chart::write_svg(results, path)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

/// The baselines of the text report; those without a row are skipped.
fn default_baselines() -> Vec<String> {
    [
        "liburcu-memb",
        "liburcu-qsbr",
        "liburcu-memb-call_rcu",
        "crossbeam-epoch",
        "crossbeam-epoch-defer_destroy",
        "arc-swap-load",
    ]
    .map(String::from)
    .to_vec()
}
