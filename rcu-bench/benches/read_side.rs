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

criterion_group! {
    name = benches;
    config = common::config();
    targets = read_pair, read_mostly_lookup, qsbr_quiescent_state
}
criterion_main!(benches);
