//! Settings shared by the criterion benches.
//!
//! Short warm-up and measurement windows so `cargo bench -p rcu-bench`
//! finishes in a few minutes on a 2-core machine; override them on the
//! command line (`-- --measurement-time 10 --warm-up-time 3`) for a quiet,
//! longer run. Under `cargo test --benches` criterion runs each bench once.
#![allow(dead_code)]

use criterion::Criterion;
use rcu_bench::pin::CpuPlan;
use std::sync::OnceLock;
use std::time::Duration;

/// The benches' criterion configuration.
pub fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

/// Pins the benchmark thread to the first allowed CPU (thread 0 of the
/// plan); helper threads take threads 1, 2, ... of the same plan, so a
/// busy reader does not share the measuring thread's CPU while another CPU
/// is free.
///
/// The plan is made once per process, by the first call, before anything
/// is pinned: the allowed set is the calling thread's affinity, so a plan
/// made after this thread was pinned would hold its one CPU and put every
/// helper thread on it. (It did, for every group after a bench file's
/// first: the `synchronize_rcu_async` readers shared the measuring
/// thread's CPU; see BENCHMARKS.md.)
pub fn pin_bench_thread() -> CpuPlan {
    static PLAN: OnceLock<CpuPlan> = OnceLock::new();
    let plan = PLAN.get_or_init(|| CpuPlan::new(true)).clone();
    plan.pin(0);
    plan
}
