//! tokio runtimes from `rcu-tokio`, one `BenchmarkId` per read policy
//! (`memb`; QSBR `qsbr_online_in_read`, the default builders, online only
//! inside `read`; QSBR `qsbr_online_until_park`, online from a worker's
//! first read until it parks), on a two-worker multi-thread runtime:
//!
//! * `tokio_read_scope`: one `read` scope (load a field) in a loop inside a
//!   single spawned task: the per-scope cost of each policy.
//! * `tokio_read`: 256 spawned tasks, each running 1 or 64 read scopes,
//!   spawned and awaited from `block_on`; throughput is read scopes per
//!   second, spawning and scheduling included.
//! * `tokio_synchronize_rcu`: latency of one `synchronize_rcu()` from the
//!   bench thread (not a runtime thread) while the workers are parked
//!   (`parked`) or run two tasks that read and yield in a loop (`busy`).
//!   Flat sampling, as in `grace_period`.
//!
//! Threads are not pinned: tokio places its workers.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spawned tasks per iteration of `tokio_read`.
const TASKS: usize = 256;

/// The configuration the tasks read.
struct Config {
    limit: u64,
}

#[derive(Clone, Copy)]
enum Policy {
    Memb,
    QsbrOnlineInRead,
    QsbrOnlineUntilPark,
}

impl Policy {
    const ALL: [Policy; 3] = [Policy::Memb, Policy::QsbrOnlineInRead, Policy::QsbrOnlineUntilPark];

    fn name(self) -> &'static str {
        match self {
            Policy::Memb => "memb",
            Policy::QsbrOnlineInRead => "qsbr_online_in_read",
            Policy::QsbrOnlineUntilPark => "qsbr_online_until_park",
        }
    }

    fn runtime(self) -> tokio::runtime::Runtime {
        let mut builder = match self {
            Policy::Memb => rcu_tokio::memb::runtime_builder_multi_thread(),
            Policy::QsbrOnlineInRead => rcu_tokio::qsbr::runtime_builder_multi_thread(),
            Policy::QsbrOnlineUntilPark => rcu_tokio::qsbr::runtime_builder_multi_thread_online_until_park(),
        };
        builder.worker_threads(2).build().unwrap()
    }

    fn synchronize(self) {
        match self {
            Policy::Memb => rcu_memb::synchronize_rcu(),
            _ => rcu_qsbr::synchronize_rcu(),
        }
    }
}

/// One cell per flavour; a policy reads its flavour's.
struct Cells {
    memb: rcu_memb::RcuCell<Config>,
    qsbr: rcu_qsbr::RcuCell<Config>,
}

impl Cells {
    fn new() -> Arc<Self> {
        Arc::new(Cells {
            memb: rcu_memb::RcuCell::new(Config { limit: 7 }),
            qsbr: rcu_qsbr::RcuCell::new(Config { limit: 7 }),
        })
    }

    /// One read scope through `policy`.
    #[inline]
    fn read(&self, policy: Policy) -> u64 {
        match policy {
            Policy::Memb => rcu_tokio::memb::read(|g| self.memb.load(g).limit),
            _ => rcu_tokio::qsbr::read(|g| self.qsbr.load(g).limit),
        }
    }
}

fn tokio_read_scope(c: &mut Criterion) {
    let mut g = c.benchmark_group("tokio_read_scope");
    for policy in Policy::ALL {
        let runtime = policy.runtime();
        let cells = Cells::new();
        g.bench_function(BenchmarkId::from_parameter(policy.name()), |b| {
            b.iter_custom(|iters| {
                let cells = cells.clone();
                runtime.block_on(async move {
                    tokio::spawn(async move {
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box(cells.read(black_box(policy)));
                        }
                        start.elapsed()
                    })
                    .await
                    .unwrap()
                })
            })
        });
    }
    g.finish();
}

fn tokio_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("tokio_read");
    for reads_per_task in [1u64, 64] {
        g.throughput(Throughput::Elements(TASKS as u64 * reads_per_task));
        for policy in Policy::ALL {
            let runtime = policy.runtime();
            let cells = Cells::new();
            g.bench_function(BenchmarkId::new(policy.name(), reads_per_task), |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        let tasks: Vec<_> = (0..TASKS)
                            .map(|_| {
                                let cells = cells.clone();
                                tokio::spawn(async move {
                                    let mut sum = 0;
                                    for _ in 0..reads_per_task {
                                        sum += cells.read(policy);
                                    }
                                    sum
                                })
                            })
                            .collect();
                        for task in tasks {
                            black_box(task.await.unwrap());
                        }
                    })
                })
            });
        }
    }
    g.finish();
}

fn tokio_synchronize_rcu(c: &mut Criterion) {
    let mut g = c.benchmark_group("tokio_synchronize_rcu");
    g.sampling_mode(SamplingMode::Flat);
    for busy in [false, true] {
        for policy in Policy::ALL {
            let runtime = policy.runtime();
            let cells = Cells::new();
            let stop = Arc::new(AtomicBool::new(false));
            // Every worker reads once (QSBR: registers, and online until
            // park comes online), then parks, or starts the busy readers.
            runtime.block_on(async {
                for _ in 0..8 {
                    let cells = cells.clone();
                    tokio::spawn(async move { cells.read(policy) }).await.unwrap();
                }
            });
            let readers: Vec<_> = (0..if busy { 2 } else { 0 })
                .map(|_| {
                    let (cells, stop) = (cells.clone(), stop.clone());
                    runtime.spawn(async move {
                        // Relaxed: only stops the loop; awaiting the task
                        // orders everything else.
                        while !stop.load(Ordering::Relaxed) {
                            black_box(cells.read(policy));
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            if !busy {
                // Let the workers park.
                std::thread::sleep(Duration::from_millis(10));
            }
            let state = if busy { "busy" } else { "parked" };
            g.bench_function(BenchmarkId::new(policy.name(), state), |b| b.iter(|| policy.synchronize()));
            // Relaxed: see the load.
            stop.store(true, Ordering::Relaxed);
            runtime.block_on(async {
                for reader in readers {
                    reader.await.unwrap();
                }
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = tokio_read_scope, tokio_read, tokio_synchronize_rcu
}
criterion_main!(benches);
