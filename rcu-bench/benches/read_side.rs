//! Read-side costs, one group per operation, one `BenchmarkId` per
//! implementation:
//!
//! * `read_pair`: read lock, dereference of the published node, unlock;
//!   no writer. QSBR's sections are free, so its figure is the load and the
//!   loop. The same loop gives `rcu-bench compare`'s `read_pair_ns`.
//! * `read_mostly_lookup`: read lock, binary search in a 1,024-key table,
//!   unlock, while a writer replaces the table every millisecond (retiring
//!   the old one through each implementation's own mechanism). QSBR readers
//!   announce a quiescent state every 1,024 lookups.
//! * `qsbr_quiescent_state`: one quiescent state with no grace period
//!   pending (QSBR implementations only).
//! * `srcu_read_pair`: rcu-srcu's read lock, dereference, unlock beside
//!   rcu-memb's, with 1 reader thread (the measured one) and with 2 (a
//!   second thread runs the same loop on another CPU meanwhile). Not in
//!   `read_pair`: that group is built from the peer list, whose entries
//!   also drive rayon pools and the `compare` report.
//!
//! The loops are the implementations' own ([`rcu_bench::peer::Peer`]),
//! written once in Rust for the Rust implementations and in the liburcu
//! shim (C, `_LGPL_SOURCE`) for liburcu, so no implementation pays an FFI
//! call per read.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rcu_bench::implementations::Implementation;

fn read_pair(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("read_pair");
    for imp in Implementation::all() {
        imp.read_pair(&mut |timed| {
            g.bench_function(BenchmarkId::from_parameter(imp.name()), |b| b.iter_custom(&mut *timed));
        });
    }
    g.finish();
}

fn read_mostly_lookup(c: &mut Criterion) {
    let plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("read_mostly_lookup");
    for imp in Implementation::all() {
        imp.read_mostly_lookup(&plan, &mut |timed| {
            g.bench_function(BenchmarkId::from_parameter(imp.name()), |b| b.iter_custom(&mut *timed));
        });
    }
    g.finish();
}

fn qsbr_quiescent_state(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("qsbr_quiescent_state");
    for imp in Implementation::all() {
        imp.quiescent_states(&mut |timed| {
            g.bench_function(BenchmarkId::from_parameter(imp.name()), |b| b.iter_custom(&mut *timed));
        });
    }
    g.finish();
}

/// One read section of flavour `F` on `cell`, `iters` times; the time.
fn read_pairs<F: rcu_core::RcuFlavour>(cell: &rcu_core::RcuCell<u64, F>, iters: u64) -> std::time::Duration {
    let thread = F::register_thread();
    let start = std::time::Instant::now();
    for _ in 0..iters {
        let guard = F::read_lock(&thread);
        std::hint::black_box(*cell.load(&guard));
    }
    start.elapsed()
}

/// `srcu_read_pair/<flavour>/<readers>` (module docs).
fn srcu_read_pair(c: &mut Criterion) {
    let plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("srcu_read_pair");
    fn run<F: rcu_core::RcuFlavour>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        plan: &rcu_bench::pin::CpuPlan,
        name: &str,
    ) {
        let cell: &'static rcu_core::RcuCell<u64, F> = Box::leak(Box::new(rcu_core::RcuCell::new(7)));
        g.bench_function(BenchmarkId::new(name, 1), |b| b.iter_custom(|iters| read_pairs(cell, iters)));
        let stop: &'static std::sync::atomic::AtomicBool =
            Box::leak(Box::new(std::sync::atomic::AtomicBool::new(false)));
        std::thread::scope(|s| {
            s.spawn(|| {
                plan.pin(1);
                // Relaxed: a stop flag; nothing is published through it.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    read_pairs(cell, 1_000);
                }
            });
            g.bench_function(BenchmarkId::new(name, 2), |b| b.iter_custom(|iters| read_pairs(cell, iters)));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
    run::<rcu_memb::Memb>(&mut g, &plan, "memb");
    run::<rcu_srcu::Srcu>(&mut g, &plan, "srcu");
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = read_pair, read_mostly_lookup, qsbr_quiescent_state, srcu_read_pair
}
criterion_main!(benches);
