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
//! * `synchronize_rcu_async`: latency of awaiting one
//!   `synchronize_rcu_async()` (on a `block_on` of this file that parks the
//!   thread between polls) beside one blocking `synchronize_rcu()`, per
//!   flavour, from an unregistered thread with 0 and 1 busy readers; ids
//!   `<flavour>-async/<readers>` and `<flavour>-blocking/<readers>`, so
//!   the ratio of medians reads off one group. The async call runs the
//!   grace period itself when its readers leave within a short spin;
//!   otherwise the reclaim thread runs it and wakes the awaiting thread
//!   (it is pinned to the measuring thread's CPU meanwhile). The busy
//!   reader has its own CPU: with it on the measuring thread's, the
//!   spin cannot succeed and QSBR's ratio is about 2x (BENCHMARKS.md).
//!
//! Threads are pinned: the measuring thread to the first allowed CPU,
//! readers round robin from the next one (on 2 CPUs the second reader
//! shares the measuring thread's CPU; see BENCHMARKS.md).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use rcu_bench::implementations::Implementation;
use rcu_bench::pin::CpuPlan;
use rcu_bench::sharing::BusyReaders;
use rcu_core::RcuFlavour;
use std::future::Future;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};
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

/// Wakes by unparking the thread that runs `block_on`.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion, parking between polls.
fn block_on<T>(waker: &Waker, future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut Context::from_waker(waker)) {
            return v;
        }
        std::thread::park();
    }
}

/// Sets the affinity of `F`'s reclaim thread to `cpus` (from a callback,
/// which runs on that thread); `None` leaves it as it is.
fn pin_reclaim_thread<F: RcuFlavour>(cpus: Option<Vec<usize>>) {
    let Some(cpus) = cpus else { return };
    F::call_rcu(move || {
        // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for cpu in cpus {
            // SAFETY: `set` is a valid set and `cpu` an allowed CPU number,
            // below `CPU_SETSIZE`.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        // SAFETY: `set` is initialised and its size is passed; 0 names the
        // calling thread. A refusal leaves the thread as it was (the run is
        // still valid, only less repeatable).
        let _ = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    });
    F::rcu_barrier();
}

fn synchronize_rcu_async(c: &mut Criterion) {
    fn bench<F: RcuFlavour>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        plan: &CpuPlan,
        name: &str,
    ) {
        let imp = Implementation::named(name);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        // The reclaim thread runs the async grace period: on the measuring
        // thread's CPU, like the measuring thread when it runs a blocking
        // one (left to the scheduler, it may be woken on a busy reader's
        // CPU and preempt the reader its grace period waits for).
        pin_reclaim_thread::<F>(plan.cpu_for(0).map(|cpu| vec![cpu]));
        for busy_readers in [0usize, 1] {
            let readers = BusyReaders::start(imp, busy_readers, plan, 1);
            g.bench_function(BenchmarkId::new(format!("{}-async", imp.name()), busy_readers), |b| {
                b.iter(|| block_on(&waker, F::synchronize_rcu_async()))
            });
            g.bench_function(BenchmarkId::new(format!("{}-blocking", imp.name()), busy_readers), |b| {
                b.iter(F::synchronize_rcu)
            });
            let (_reads, mismatches) = readers.stop();
            assert_eq!(mismatches, 0, "{imp}: a reader saw a node that is not live");
        }
        pin_reclaim_thread::<F>(plan.enabled().then(rcu_testkit::pin::allowed_cpus));
    }
    let plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("synchronize_rcu_async");
    g.sampling_mode(SamplingMode::Flat);
    bench::<rcu_memb::Memb>(&mut g, &plan, "memb");
    bench::<rcu_qsbr::Qsbr>(&mut g, &plan, "qsbr");
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = synchronize_rcu, synchronize_rcu_4_callers, synchronize_rcu_async
}
criterion_main!(benches);
