//! Settings shared by the criterion benches.
//!
//! Short warm-up and measurement windows so `cargo bench -p rcu-bench`
//! finishes in a few minutes on a 2-core machine; override them on the
//! command line (`-- --measurement-time 10 --warm-up-time 3`) for a quiet,
//! longer run. Under `cargo test --benches` criterion runs each bench once.
#![allow(dead_code)]

use criterion::Criterion;
use rcu_bench::pin::CpuPlan;
use std::time::Duration;

/// The benches' criterion configuration.
pub fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

/// Pins the benchmark thread to the first allowed CPU (thread 0 of the
/// plan); helper threads take threads 1, 2, ... of the same plan, so a
/// busy reader does not share the measuring thread's CPU while another CPU
/// is free.
pub fn pin_bench_thread() -> CpuPlan {
    let plan = CpuPlan::new(true);
    plan.pin(0);
    plan
}
