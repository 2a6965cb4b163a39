//! `resize_stress`: readers look descriptors up while a resizer grows the
//! table one descriptor at a time, for every reclamation strategy on both
//! flavours; prints what each costs and verifies that nothing was freed
//! early and nothing leaked.
//!
//! The table, the runs and their verification, and the summary are the
//! `descriptor-table` crate's (examples/descriptor-table): this binary
//! parses its arguments, runs every configuration asked for and prints the
//! summary table or JSON.
//!
//! The last line is the verdict: `PASS: ...` or `FAIL: ...`, naming what
//! was checked (runs, lookups, early frees, corrupt lookups, leaks). Exit
//! status is non-zero on `FAIL`, after a message naming each failure.

use clap::builder::PossibleValuesParser;
use clap::{Parser, ValueEnum};
use descriptor_table::report;
use descriptor_table::stress::{FlavourRunner, Progress, RunConfig, RunResult, FLAVOURS};
use descriptor_table::table::Strategy;
use serde_json::json;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    about = "Descriptor-table resize stress: compares RCU reclamation strategies on both flavours, \
             verifies no early free and no leak",
    long_about = None,
    after_help = format!("Columns of the table:\n{}\nThe last line is the verdict: PASS or FAIL, with the exit code to match.", report::LEGEND)
)]
struct Args {
    /// Flavours to run.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(FLAVOURS.iter().map(|f| f.name)),
        default_values_t = FLAVOURS.iter().map(|f| f.name.to_owned()).collect::<Vec<_>>()
    )]
    flavours: Vec<String>,
    /// Strategies to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = StrategyArg::value_variants().to_vec())]
    strategies: Vec<StrategyArg>,
    /// Reader threads [default: one per core].
    #[arg(long)]
    readers: Option<usize>,
    /// Resizes (grows by one descriptor) per run.
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..))]
    resizes: u64,
    /// Lookups per read-side critical section.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    section_len: u64,
    /// QSBR readers: lookups between quiescent states (rounded up to whole
    /// sections).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    qs_interval: u64,
    /// Runs of each configuration; the table shows medians, JSON every run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// The resizer yields the CPU after every N resizes (0: never). For
    /// valgrind, which runs one thread at a time: readers then run, and are
    /// preempted inside read-side sections, between resizes.
    #[arg(long, default_value_t = 0)]
    yield_every: u64,
    /// call-rcu: every Nth wrapper allocation fails as if memory were
    /// exhausted (0: never), exercising the synchronize-then-free fallback.
    #[arg(long, default_value_t = 0)]
    fail_wrapper_every: u64,
    /// kvfree: the resizer runs as if no kvfree block could be allocated,
    /// so every retirement takes kvfree_rcu's emergency path
    /// (synchronize_rcu(), then free inline).
    #[arg(long)]
    fail_kvfree_blocks: bool,
    /// kvfree: how long a partial block may wait before the reclaim thread
    /// seals it, in milliseconds [default: the engine's, 20 ms]. Long
    /// intervals make blocks fill up (under valgrind, for example).
    #[arg(long)]
    kvfree_drain_ms: Option<u64>,
    /// Seed of the readers' random lookups.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Leave reader placement to the scheduler instead of pinning reader i
    /// to the i-th CPU the process may use. Unpinned, two readers sometimes
    /// share a CPU for a whole run (the resizer then has the other to
    /// itself), and the figures flip between two regimes: faster resizes,
    /// far fewer lookups.
    #[arg(long)]
    no_pin: bool,
    /// Print JSON (every run, and the summary) instead of the table.
    #[arg(long)]
    json: bool,
    /// Counts one early free in the first run after it finished, so that
    /// the run must end in `FAIL` and a non-zero exit (scripts/smoke_resize.sh
    /// checks the failure path with it).
    #[arg(long, hide = true)]
    inject_failure: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    /// synchronize_rcu() then free, per resize.
    Sync,
    /// A wrapper with an RcuHead per resize, call_rcu_raw; sync if the
    /// wrapper cannot be allocated.
    CallRcu,
    /// Headless kvfree_rcu of the old array: per-thread bulk blocks, one
    /// grace period per block.
    Kvfree,
    /// Never free during the run (the floor; memory grows).
    Leak,
}

impl StrategyArg {
    fn strategy(self) -> Strategy {
        match self {
            StrategyArg::Sync => Strategy::Sync,
            StrategyArg::CallRcu => Strategy::CallRcu,
            StrategyArg::Kvfree => Strategy::Kvfree,
            StrategyArg::Leak => Strategy::Leak,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let flavours: Vec<&FlavourRunner> = args
        .flavours
        .iter()
        .map(|name| FlavourRunner::named(name).expect("clap accepts only the names in FLAVOURS"))
        .collect();
    let readers = args.readers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let total_runs = args.repeat * (flavours.len() * args.strategies.len()) as u64;
    let mut progress = Progress::new(true);
    let mut results = Vec::new();
    let mut run_number = 0;
    for repeat in 0..args.repeat {
        for flavour in &flavours {
            for &strategy in &args.strategies {
                run_number += 1;
                let config = RunConfig {
                    strategy: strategy.strategy(),
                    readers,
                    resizes: args.resizes,
                    section_len: args.section_len,
                    qs_interval: args.qs_interval,
                    yield_every: args.yield_every,
                    fail_wrapper_every: args.fail_wrapper_every,
                    fail_kvfree_blocks: args.fail_kvfree_blocks,
                    kvfree_drain: args.kvfree_drain_ms.map(Duration::from_millis),
                    seed: args.seed.wrapping_add(repeat),
                    pin_readers: !args.no_pin,
                    label: format!("[{run_number}/{total_runs}] {} {}", flavour.name, strategy.strategy().name()),
                };
                let result = flavour.run(&config, &mut progress);
                progress.finished(&config.label, &result);
                results.push((repeat, result));
            }
        }
    }

    if args.inject_failure {
        if let Some((_, first)) = results.first_mut() {
            first.reader.early_frees += 1;
        }
    }
    let runs: Vec<RunResult> = results.iter().map(|(_, r)| r.clone()).collect();
    let strategies: Vec<Strategy> = args.strategies.iter().map(|s| s.strategy()).collect();
    let rows = report::summarise(&runs, &flavours, &strategies);
    let failures: Vec<String> = runs.iter().flat_map(RunResult::failures).collect();
    if args.json {
        let out = json!({
            "config": {
                "resizes": args.resizes,
                "readers": readers,
                "section_len": args.section_len,
                "qs_interval": args.qs_interval,
                "yield_every": args.yield_every,
                "fail_wrapper_every": args.fail_wrapper_every,
                "fail_kvfree_blocks": args.fail_kvfree_blocks,
                "kvfree_drain_ms": args.kvfree_drain_ms,
                "repeat": args.repeat,
                "seed": args.seed,
                "barrier_strategy": format!("{:?}", rcu::memb::stats().barrier_strategy),
            },
            "runs": results.iter().map(|(rep, r)| report::run_json(r, *rep)).collect::<Vec<_>>(),
            "summary": rows.iter().map(report::summary_json).collect::<Vec<_>>(),
            "ok": failures.is_empty(),
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON values always serialise"));
    } else {
        println!(
            "resize_stress: {} resizes, {readers} readers, {} lookups per read-side section, QSBR quiescent \
             state every {} lookups, {} repeat(s), seed {}; memb barriers: {:?}",
            args.resizes,
            args.section_len,
            args.qs_interval,
            args.repeat,
            args.seed,
            rcu::memb::stats().barrier_strategy
        );
        if args.fail_wrapper_every != 0 {
            println!(
                "  call-rcu: 1 in {} wrapper allocations fails (fallback: synchronize, then free)",
                args.fail_wrapper_every
            );
        }
        if args.fail_kvfree_blocks {
            println!("  kvfree: no block can be allocated (emergency path: synchronize, then free inline)");
        }
        print!("{}", report::table(&rows));
        print!("\nColumns:\n{}", report::LEGEND);
    }
    for f in &failures {
        eprintln!("resize_stress: {f}");
    }
    let verdict = report::verdict(&runs);
    // With --json, stdout is the JSON document alone; the verdict goes to
    // stderr there.
    if args.json {
        eprintln!("{}", verdict.line);
    } else {
        println!("{}", verdict.line);
    }
    if verdict.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
