//! Grace-period costs, one group per operation, one `BenchmarkId` per
//! implementation (crossbeam-epoch has no synchronous grace-period wait and
//! is absent here):
//!
//! * `synchronize_rcu`: latency of one `synchronize_rcu()` from an
//!   unregistered thread with 0, 1 and 2 busy reader threads (each in
//!   back-to-back read-side sections; QSBR readers announce a quiescent
//!   state every 1,024 reads, as liburcu's tests do). Flat sampling: every
//!   sample runs the same number of grace periods, so a slow outlier does
//!   not skew the fit.
//! * `synchronize_rcu_4_callers`: four threads calling `synchronize_rcu()`
//!   in a loop, with 0 and 1 busy readers; throughput is synchronize calls
//!   completed per second across the four (grace-period sharing lets one
//!   grace period serve several callers). With no reader at all the figure
//!   is the grace-period machinery alone (liburcu-memb returns at once when
//!   no thread is registered).
//!
//! Threads are pinned: the measuring thread to the first allowed CPU,
//! readers round robin from the next one (on 2 CPUs the second reader
//! shares the measuring thread's CPU; see BENCHMARKS.md).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use rcu_bench::implementations::Implementation;
use rcu_bench::sharing::BusyReaders;
use std::sync::Barrier;
use std::time::Instant;

fn synchronize_rcu(c: &mut Criterion) {
    let plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("synchronize_rcu");
    g.sampling_mode(SamplingMode::Flat);
    for busy_readers in [0usize, 1, 2] {
        for imp in Implementation::with_synchronize() {
            let readers = BusyReaders::start(imp, busy_readers, &plan, 1);
            g.bench_with_input(BenchmarkId::new(imp.name(), busy_readers), &imp, |b, &imp| {
                b.iter(|| imp.synchronize())
            });
            let (_reads, mismatches) = readers.stop();
            assert_eq!(mismatches, 0, "{imp}: a reader saw a node that is not live");
        }
    }
    g.finish();
}

fn synchronize_rcu_4_callers(c: &mut Criterion) {
    const CALLERS: usize = 4;
    let plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("synchronize_rcu_4_callers");
    g.sampling_mode(SamplingMode::Flat);
    // One iteration is one synchronize_rcu() by each of the four callers.
    g.throughput(Throughput::Elements(CALLERS as u64));
    for busy_readers in [0usize, 1] {
        for imp in Implementation::with_synchronize() {
            // Readers take the plan's threads after the four callers.
            let readers = BusyReaders::start(imp, busy_readers, &plan, CALLERS);
            g.bench_with_input(BenchmarkId::new(imp.name(), busy_readers), &imp, |b, &imp| {
                b.iter_custom(|iters| {
                    let start_line = Barrier::new(CALLERS);
                    std::thread::scope(|s| {
                        for k in 1..CALLERS {
                            let (start_line, plan) = (&start_line, &plan);
                            s.spawn(move || {
                                plan.pin(k);
                                start_line.wait();
                                for _ in 0..iters {
                                    imp.synchronize();
                                }
                            });
                        }
                        start_line.wait();
                        let start = Instant::now();
                        for _ in 0..iters {
                            imp.synchronize();
                        }
                        // Leaving the scope joins the other callers: the time
                        // covers all four.
                        start
                    })
                    .elapsed()
                })
            });
            let (_reads, mismatches) = readers.stop();
            assert_eq!(mismatches, 0, "{imp}: a reader saw a node that is not live");
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = synchronize_rcu, synchronize_rcu_4_callers
}
criterion_main!(benches);
