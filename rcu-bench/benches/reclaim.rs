//! Deferred-reclamation costs, one group per operation, one `BenchmarkId`
//! per implementation:
//!
//! * `call_rcu_enqueue`: queue one callback that frees a node.
//!   rcu-memb/rcu-qsbr `call_rcu(closure)`, crossbeam-epoch `pin` +
//!   `defer(closure)`, liburcu `call_rcu` (intrusive `rcu_head`, its only
//!   form). Timed in bursts of [`ENQUEUE_BURST`](rcu_bench::loops::ENQUEUE_BURST) calls over nodes allocated
//!   before each burst, with each implementation's drain (barrier, or
//!   flush for crossbeam-epoch) untimed between bursts: the cost of the
//!   call. Queueing without pause is bounded by the drain rate instead,
//!   which `callbacks_2m_then_barrier` measures.
//! * `call_rcu_raw_enqueue`: the intrusive form, timed the same way:
//!   rcu-memb/rcu-qsbr `call_rcu_raw`, liburcu `call_rcu` as the reference.
//! * `kvfree_rcu_enqueue`: headless deferred free of a node: rcu-memb/rcu-qsbr
//!   `kvfree_rcu`, crossbeam-epoch `pin` + `defer_destroy`, liburcu
//!   `defer_rcu` (its per-thread pointer queue, the closest liburcu has).
//!   Sustained: up to about a million calls per sample, so it includes the
//!   slow path of every block and any wait past the backlog limit, and, for
//!   liburcu and crossbeam-epoch, their own reclaim work.
//! * `kvfree_rcu_fast_path` (ours only): the call itself, timed in batches
//!   of [`FAST_PATH_BATCH`](rcu_bench::loops::FAST_PATH_BATCH) calls that fit in the block opened by an untimed
//!   call before each batch, with an untimed `rcu_barrier` after it, so no
//!   timed call opens a block or frees anything: appending to the thread's
//!   open block, the path every call but a block's first takes.
//! * `call_rcu_then_barrier`: one callback, then `rcu_barrier()`: the
//!   latency of "free this and wait until it is freed".
//! * `callbacks_2m_then_barrier`: 2,000,000 callbacks then `rcu_barrier()`,
//!   all timed: queue plus drain throughput.
//! * `kvfree_flood`: per object, allocate and retire (the drain at the end
//!   of each sample is timed), against a plain allocate-and-free loop and
//!   against `batched-free-same-thread`: allocate and free in batches of
//!   [`BATCHED_FREE`] on one thread with no RCU, the allocator's floor for
//!   any deferred free (which must hold objects back past a grace period).
//!
//! Peak RSS is not a criterion figure: `rcu-bench flood` reports it.
//!
//! The loops are the implementations' own ([`rcu_bench::peer::Peer::reclaim`]
//! and, for `kvfree_flood`, the loops of `rcu-bench flood`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use rcu_bench::implementations::Implementation;
use rcu_bench::peer::ReclaimOp;
use rcu_bench::workload::Node;
use std::hint::black_box;
use std::time::Instant;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Objects held back per batch in `kvfree_flood`'s `batched-free-same-thread`
/// entry (about a kvfree block's worth).
const BATCHED_FREE: usize = 512;

/// Callbacks in `callbacks_2m_then_barrier`.
const FLOOD_CALLBACKS: u64 = 2_000_000;

/// One entry per implementation that has an equivalent of `op`.
fn entries(g: &mut Group<'_>, op: ReclaimOp) {
    for imp in Implementation::all() {
        imp.reclaim(op, &mut |timed| {
            g.bench_function(BenchmarkId::from_parameter(imp.name()), |b| b.iter_custom(&mut *timed));
        });
    }
}

fn call_rcu_enqueue(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("call_rcu_enqueue");
    entries(&mut g, ReclaimOp::CallRcuEnqueue);
    g.finish();
}

fn call_rcu_raw_enqueue(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("call_rcu_raw_enqueue");
    entries(&mut g, ReclaimOp::CallRcuRawEnqueue);
    g.finish();
}

fn kvfree_rcu_enqueue(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("kvfree_rcu_enqueue");
    entries(&mut g, ReclaimOp::KvfreeRcuEnqueue);
    g.finish();
}

fn kvfree_rcu_fast_path(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("kvfree_rcu_fast_path");
    entries(&mut g, ReclaimOp::KvfreeRcuFastPath);
    g.finish();
}

fn call_rcu_then_barrier(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("call_rcu_then_barrier");
    g.sampling_mode(SamplingMode::Flat);
    // liburcu's worker sleeps 10 ms between batches: 10 samples keep the
    // group within a few seconds.
    g.sample_size(10);
    entries(&mut g, ReclaimOp::CallRcuThenBarrier);
    g.finish();
}

fn callbacks_2m_then_barrier(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("callbacks_2m_then_barrier");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Elements(FLOOD_CALLBACKS));
    entries(&mut g, ReclaimOp::CallbacksThenBarrier(FLOOD_CALLBACKS));
    g.finish();
}

fn kvfree_flood(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("kvfree_flood");
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::from_parameter("plain-alloc-free"), |b| {
        b.iter(|| drop(black_box(Node::new_boxed())))
    });
    // The allocator's floor for any deferred free: objects held back in
    // batches (as they must be, past a grace period) and freed by the
    // thread that allocated them, with no RCU at all.
    g.bench_function(BenchmarkId::from_parameter("batched-free-same-thread"), |b| {
        let mut held: Vec<Box<Node>> = Vec::with_capacity(BATCHED_FREE);
        b.iter(|| {
            held.push(black_box(Node::new_boxed()));
            if held.len() == BATCHED_FREE {
                held.clear();
            }
        })
    });
    // Per object, allocate and retire; the drain at the end of each sample
    // is timed.
    for imp in Implementation::all() {
        for (id, way) in imp.kvfree_flood_ids() {
            imp.flood(way, &mut |flood| {
                g.bench_function(BenchmarkId::from_parameter(&id), |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        flood(iters, true);
                        start.elapsed()
                    })
                });
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = call_rcu_enqueue, call_rcu_raw_enqueue, kvfree_rcu_enqueue, kvfree_rcu_fast_path, call_rcu_then_barrier,
        callbacks_2m_then_barrier, kvfree_flood
}
criterion_main!(benches);
