//! Short in-process torture runs: every flavour passes, and a deliberately
//! broken retire path is caught, with messages naming flavour, path and
//! seed; for srcu, whose guards are `Send`, by the hand-off and async
//! readers alone too.
//!
//! Runs of one flavour must not overlap (the pass condition checks that no
//! reader slot is left claimed), so the tests of this file take turns.

use rcu_core::RcuFlavour;
use rcu_memb::Memb;
use rcu_qsbr::Qsbr;
use rcu_srcu::Srcu;
use rcu_torture::flood::FloodShape;
use rcu_torture::{run, run_roaming, Config, Report};
use std::sync::Mutex;
use std::time::Duration;

static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

fn short(seed: u64) -> Config {
    Config { duration: Duration::from_millis(1500), seed, readers: 2, updaters: 1, churners: 1, ..Config::default() }
}

fn run_alone<F: RcuFlavour>(config: &Config) -> Report {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let report = run::<F>(config).expect("valid configuration");
    println!("{report}");
    report
}

fn assert_passes<F: RcuFlavour>() {
    let report = run_alone::<F>(&short(11));
    assert!(report.passed(), "{report}");
    assert!(report.reads > 0 && report.writer_steps > 0, "{report}");
    assert!(report.paths.iter().all(|p| p.steps > 0), "every path must run: {report}");
    assert!(report.churned_threads > 0 && report.churn_pending > 0, "{report}");
    assert!(report.flood_calls > 0 && report.rss_samples > 0, "{report}");
}

#[test]
fn a_short_memb_run_passes_every_check_on_every_path() {
    assert_passes::<Memb>();
}

#[test]
fn a_short_qsbr_run_passes_every_check_on_every_path() {
    assert_passes::<Qsbr>();
}

#[test]
fn a_short_srcu_run_with_roaming_sections_passes_and_counts_them() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let report = run_roaming::<Srcu>(&short(13)).expect("valid configuration");
    println!("{report}");
    assert!(report.passed(), "{report}");
    let roaming = report.roaming.as_ref().expect("srcu runs the roaming readers");
    assert!(roaming.handoff_reads > 0 && roaming.async_reads > 0, "{report}");
    assert!(report.paths.iter().all(|p| p.steps > 0), "every path must run: {report}");
}

#[test]
fn the_roaming_readers_alone_catch_a_path_that_frees_without_a_grace_period() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let config = Config {
        sabotage: true,
        paths: vec!["sabotage:no-grace-period".into()],
        readers: 0,
        updaters: 0,
        churners: 0,
        flooders: 0,
        ..short(37)
    };
    let report = run_roaming::<Srcu>(&config).expect("valid configuration");
    println!("{report}");
    assert!(!report.passed(), "a path that frees without a grace period must fail the run:\n{report}");
    let tag = "FAIL [flavour=srcu path=sabotage:no-grace-period seed=37]";
    for who in ["hand-off partner", "async reader task"] {
        assert!(
            report.failures.iter().any(|m| m.starts_with(tag) && m.contains(who) && m.contains("marked freed")),
            "the {who}s must report the early free with `{tag}`:\n{report}"
        );
    }
}

fn assert_sabotage_is_caught<F: RcuFlavour>() {
    let config = Config { sabotage: true, paths: vec!["sabotage:no-grace-period".into()], ..short(29) };
    let report = run_alone::<F>(&config);
    assert!(!report.passed(), "a path that frees without a grace period must fail the run:\n{report}");
    let first = report.failures.first().expect("failures are recorded with messages");
    let tag = format!("FAIL [flavour={} path=sabotage:no-grace-period seed=29]", F::NAME);
    assert!(first.starts_with(&tag), "failure message `{first}` must start with `{tag}`");
    assert!(report.problems().iter().any(|p| p.contains("seed=29")), "{:?}", report.problems());
}

#[test]
fn a_memb_path_that_frees_without_a_grace_period_is_caught() {
    assert_sabotage_is_caught::<Memb>();
}

#[test]
fn a_qsbr_path_that_frees_without_a_grace_period_is_caught() {
    assert_sabotage_is_caught::<Qsbr>();
}

fn assert_unbounded_flood_breaks_the_ceiling<F: RcuFlavour>() {
    let config = Config {
        sabotage_flood: true,
        rss_headroom: 4 << 20,
        flood: FloodShape { burst: Duration::from_millis(600), rest: Duration::from_millis(100) },
        paths: vec!["synchronize_rcu".into()],
        ..short(31)
    };
    let report = run_alone::<F>(&config);
    assert!(report.rss_peak > report.rss_ceiling, "{report}");
    let tag = format!("FAIL [flavour={} path=flood seed=31]", F::NAME);
    assert!(
        report.failures.iter().any(|m| m.starts_with(&tag) && m.contains("exceeds the memory ceiling")),
        "the first sample above the ceiling must fail the run with `{tag}`:\n{report}"
    );
}

#[test]
fn a_memb_flood_the_engine_may_not_throttle_breaks_the_memory_ceiling() {
    assert_unbounded_flood_breaks_the_ceiling::<Memb>();
}

#[test]
fn a_qsbr_flood_the_engine_may_not_throttle_breaks_the_memory_ceiling() {
    assert_unbounded_flood_breaks_the_ceiling::<Qsbr>();
}

#[test]
fn an_unknown_path_or_a_tiny_pool_is_refused_with_the_reason() {
    let err = run::<Memb>(&Config { paths: vec!["nope".into()], ..short(1) }).unwrap_err();
    assert!(err.0.contains("unknown retire path `nope`") && err.0.contains("synchronize_rcu"), "{err}");
    let err = run::<Memb>(&Config { pool_size: 3, ..short(1) }).unwrap_err();
    assert!(err.0.contains("at least"), "{err}");
}
