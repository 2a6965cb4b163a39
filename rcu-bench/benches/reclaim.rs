//! Deferred-reclamation costs, one group per operation, one `BenchmarkId`
//! per implementation:
//!
//! * `call_rcu_enqueue`: queue one callback that frees a node.
//!   rcu-memb/rcu-qsbr `call_rcu(closure)`, crossbeam-epoch `pin` +
//!   `defer(closure)`, liburcu `call_rcu` (intrusive `rcu_head`, its only
//!   form). Timed in bursts of [`ENQUEUE_BURST`] calls over nodes allocated
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
//!   of [`FAST_PATH_BATCH`] calls that fit in the block opened by an untimed
//!   call before each batch, with an untimed `rcu_barrier` after it, so no
//!   timed call opens a block or frees anything: appending to the thread's
//!   open block, as the kvfree issue's "fast path" defines it.
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
//! liburcu threads stay registered but offline while they queue: liburcu's
//! `call_rcu` accepts that, and its reclaim thread's grace periods then do
//! not wait for the benchmark thread (an online QSBR thread that never
//! announces a quiescent state would stall them). liburcu's `rcu_barrier`
//! silently returns when called from an online QSBR thread, another reason
//! to be offline.
// Without the liburcu feature some groups have no entries left, which
// leaves their ids, `mut` bindings and helpers unused.
#![cfg_attr(not(feature = "liburcu"), allow(unused_mut, unused_variables, dead_code))]

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use rcu_bench::implementation::Implementation;
use rcu_bench::workload::Node;
use std::hint::black_box;
use std::time::{Duration, Instant};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Calls per timed batch in `kvfree_rcu_fast_path`: with the untimed
/// opening call, fewer than a 4 KiB block holds (two words per
/// `Box<Node>` entry).
const FAST_PATH_BATCH: usize = 128;

/// Calls per timed burst in the `call_rcu*_enqueue` groups: half our
/// default hard backlog limit, so that a burst measures the call, not a
/// producer waiting for reclaim (liburcu and crossbeam-epoch have no such
/// limit; the same bursts are used for them).
const ENQUEUE_BURST: u64 = 100_000;

/// Objects held back per batch in `kvfree_flood`'s `batched-free-same-thread`
/// entry (about a kvfree block's worth).
const BATCHED_FREE: usize = 512;

/// Callbacks in `callbacks_2m_then_barrier`.
const FLOOD_CALLBACKS: u64 = 2_000_000;

/// Times `iters` calls of `op(node)` in bursts of [`ENQUEUE_BURST`], over
/// nodes made by `make` before each burst, with `drain()` untimed after
/// each burst.
fn time_in_bursts<N>(iters: u64, make: impl Fn() -> N, mut op: impl FnMut(N), mut drain: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(ENQUEUE_BURST);
        left -= n;
        let nodes: Vec<N> = (0..n).map(|_| make()).collect();
        let start = Instant::now();
        for node in nodes {
            op(node);
        }
        total += start.elapsed();
        drain();
    }
    total
}

/// Times `iters` calls of `op(node)` over nodes allocated beforehand.
fn time_over_nodes(iters: u64, mut op: impl FnMut(Box<Node>)) -> Duration {
    let nodes: Vec<Box<Node>> = (0..iters).map(|_| Node::new_boxed()).collect();
    let start = Instant::now();
    for node in nodes {
        op(node);
    }
    start.elapsed()
}

/// Drives crossbeam-epoch until the garbage deferred so far has been
/// collected as far as pinning can force it (epoch has no barrier).
fn epoch_flush(handle: &crossbeam_epoch::LocalHandle) {
    for _ in 0..4 {
        handle.pin().flush();
    }
}

fn call_rcu_enqueue(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("call_rcu_enqueue");
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => ours::call_rcu_enqueue::<rcu_memb::Memb>(&mut g, id),
            Implementation::Qsbr => ours::call_rcu_enqueue::<rcu_qsbr::Qsbr>(&mut g, id),
            Implementation::Epoch => {
                let handle = crossbeam_epoch::default_collector().register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        time_in_bursts(
                            iters,
                            Node::new_boxed,
                            |node| {
                                let guard = handle.pin();
                                guard.defer(move || drop(node));
                            },
                            || epoch_flush(&handle),
                        )
                    })
                });
            }
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu::call_rcu_enqueue::<rcu_bench::liburcu::LibMemb>(&mut g, id),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu::call_rcu_enqueue::<rcu_bench::liburcu::LibQsbr>(&mut g, id),
        }
    }
    g.finish();
}

fn call_rcu_raw_enqueue(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("call_rcu_raw_enqueue");
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => ours::call_rcu_raw_enqueue::<rcu_memb::Memb>(&mut g, id),
            Implementation::Qsbr => ours::call_rcu_raw_enqueue::<rcu_qsbr::Qsbr>(&mut g, id),
            // crossbeam-epoch has no intrusive form.
            Implementation::Epoch => {}
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu::call_rcu_enqueue::<rcu_bench::liburcu::LibMemb>(&mut g, id),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu::call_rcu_enqueue::<rcu_bench::liburcu::LibQsbr>(&mut g, id),
        }
    }
    g.finish();
}

fn kvfree_rcu_enqueue(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("kvfree_rcu_enqueue");
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => ours::kvfree_rcu_enqueue::<rcu_memb::Memb>(&mut g, id),
            Implementation::Qsbr => ours::kvfree_rcu_enqueue::<rcu_qsbr::Qsbr>(&mut g, id),
            Implementation::Epoch => {
                let handle = crossbeam_epoch::default_collector().register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let t = time_over_nodes(iters, |node| {
                            let guard = handle.pin();
                            let shared = crossbeam_epoch::Shared::from(Box::into_raw(node).cast_const());
                            // SAFETY: the node was never published; destroying
                            // it after the epoch advances is trivially safe.
                            unsafe { guard.defer_destroy(shared) };
                        });
                        epoch_flush(&handle);
                        t
                    })
                });
            }
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu::defer_rcu_enqueue::<rcu_bench::liburcu::LibMemb>(&mut g, id),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu::defer_rcu_enqueue::<rcu_bench::liburcu::LibQsbr>(&mut g, id),
        }
    }
    g.finish();
}

fn kvfree_rcu_fast_path(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("kvfree_rcu_fast_path");
    ours::kvfree_rcu_fast_path::<rcu_memb::Memb>(&mut g, BenchmarkId::from_parameter(Implementation::Memb.name()));
    ours::kvfree_rcu_fast_path::<rcu_qsbr::Qsbr>(&mut g, BenchmarkId::from_parameter(Implementation::Qsbr.name()));
    g.finish();
}

fn call_rcu_then_barrier(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("call_rcu_then_barrier");
    g.sampling_mode(SamplingMode::Flat);
    // liburcu's worker sleeps 10 ms between batches: 10 samples keep the
    // group within a few seconds.
    g.sample_size(10);
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => ours::call_rcu_then_barrier::<rcu_memb::Memb>(&mut g, id),
            Implementation::Qsbr => ours::call_rcu_then_barrier::<rcu_qsbr::Qsbr>(&mut g, id),
            // crossbeam-epoch has no barrier.
            Implementation::Epoch => {}
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu::call_rcu_then_barrier::<rcu_bench::liburcu::LibMemb>(&mut g, id),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu::call_rcu_then_barrier::<rcu_bench::liburcu::LibQsbr>(&mut g, id),
        }
    }
    g.finish();
}

fn callbacks_2m_then_barrier(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("callbacks_2m_then_barrier");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Elements(FLOOD_CALLBACKS));
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => ours::callbacks_then_barrier::<rcu_memb::Memb>(&mut g, id),
            Implementation::Qsbr => ours::callbacks_then_barrier::<rcu_qsbr::Qsbr>(&mut g, id),
            // crossbeam-epoch has no barrier.
            Implementation::Epoch => {}
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu::callbacks_then_barrier::<rcu_bench::liburcu::LibMemb>(&mut g, id),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu::callbacks_then_barrier::<rcu_bench::liburcu::LibQsbr>(&mut g, id),
        }
    }
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
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => ours::kvfree_flood::<rcu_memb::Memb>(&mut g, id),
            Implementation::Qsbr => ours::kvfree_flood::<rcu_qsbr::Qsbr>(&mut g, id),
            Implementation::Epoch => {
                let handle = crossbeam_epoch::default_collector().register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let guard = handle.pin();
                            let shared = crossbeam_epoch::Shared::from(Box::into_raw(Node::new_boxed()).cast_const());
                            // SAFETY: never published; see kvfree_rcu_enqueue.
                            unsafe { guard.defer_destroy(shared) };
                        }
                        epoch_flush(&handle);
                        start.elapsed()
                    })
                });
            }
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu::floods::<rcu_bench::liburcu::LibMemb>(&mut g),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu::floods::<rcu_bench::liburcu::LibQsbr>(&mut g),
        }
    }
    g.finish();
}

/// liburcu entries.
#[cfg(feature = "liburcu")]
mod liburcu {
    use super::{time_in_bursts, time_over_nodes, Group, FLOOD_CALLBACKS};
    use criterion::BenchmarkId;
    use rcu_bench::liburcu::{call_rcu_free_node, defer_barrier, defer_free_node, Urcu, UrcuThread};
    use rcu_bench::workload::Node;
    use std::time::Instant;

    pub fn call_rcu_enqueue<F: Urcu>(g: &mut Group<'_>, id: BenchmarkId) {
        let mut thread = UrcuThread::<F>::register();
        thread.offline();
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                time_in_bursts(iters, Node::new_boxed, |node| call_rcu_free_node(&thread, node), F::rcu_barrier)
            })
        });
    }

    pub fn defer_rcu_enqueue<F: Urcu>(g: &mut Group<'_>, id: BenchmarkId) {
        let mut thread = UrcuThread::<F>::register();
        thread.offline();
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let t = time_over_nodes(iters, |node| defer_free_node::<F>(node));
                defer_barrier::<F>();
                t
            })
        });
    }

    pub fn call_rcu_then_barrier<F: Urcu>(g: &mut Group<'_>, id: BenchmarkId) {
        let mut thread = UrcuThread::<F>::register();
        thread.offline();
        g.bench_function(id, |b| {
            b.iter(|| {
                call_rcu_free_node(&thread, Node::new_boxed());
                F::rcu_barrier();
            })
        });
    }

    pub fn callbacks_then_barrier<F: Urcu>(g: &mut Group<'_>, id: BenchmarkId) {
        let mut thread = UrcuThread::<F>::register();
        thread.offline();
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..FLOOD_CALLBACKS {
                        call_rcu_free_node(&thread, Node::new_boxed());
                    }
                    F::rcu_barrier();
                }
                start.elapsed()
            })
        });
    }

    /// liburcu's two deferred frees in the flood group: `call_rcu` and
    /// `defer_rcu`, each drained at the end of a sample.
    pub fn floods<F: Urcu>(g: &mut Group<'_>) {
        let mut thread = UrcuThread::<F>::register();
        thread.offline();
        g.bench_function(BenchmarkId::from_parameter(format!("{}-call_rcu", F::NAME)), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    call_rcu_free_node(&thread, Node::new_boxed());
                }
                F::rcu_barrier();
                start.elapsed()
            })
        });
        g.bench_function(BenchmarkId::from_parameter(format!("{}-defer_rcu", F::NAME)), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    defer_free_node::<F>(Node::new_boxed());
                }
                defer_barrier::<F>();
                start.elapsed()
            })
        });
    }
}

/// This workspace's entries, generic over the flavour (`rcu-bench/src/reclaim.rs`).
mod ours {
    use super::{time_in_bursts, time_over_nodes, Group, FLOOD_CALLBACKS};
    use criterion::BenchmarkId;
    use rcu_bench::reclaim::{call_rcu_raw_free, OurReclaim, RawNode};
    use rcu_bench::workload::Node;
    use std::time::Instant;

    pub fn call_rcu_enqueue<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                time_in_bursts(iters, Node::new_boxed, |node| F::call_rcu(move || drop(node)), F::rcu_barrier)
            })
        });
    }

    pub fn call_rcu_raw_enqueue<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| time_in_bursts(iters, RawNode::new_boxed, call_rcu_raw_free::<F>, F::rcu_barrier))
        });
    }

    pub fn kvfree_rcu_enqueue<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let t = time_over_nodes(iters, F::kvfree_rcu);
                F::rcu_barrier();
                t
            })
        });
    }

    pub fn kvfree_rcu_fast_path<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut total = super::Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(super::FAST_PATH_BATCH as u64);
                    left -= n;
                    // Untimed: the call that opens a block (slow path: takes
                    // a cached block, arms the drain timer, which may wake
                    // the reclaim thread).
                    F::kvfree_rcu(Node::new_boxed());
                    total += super::time_over_nodes(n, F::kvfree_rcu);
                    // Untimed: frees the batch, so the next one appends to
                    // an empty thread with nothing of its own to free.
                    F::rcu_barrier();
                }
                total
            })
        });
    }

    pub fn call_rcu_then_barrier<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter(|| {
                let node = Node::new_boxed();
                F::call_rcu(move || drop(node));
                F::rcu_barrier();
            })
        });
    }

    pub fn callbacks_then_barrier<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..FLOOD_CALLBACKS {
                        let node = Node::new_boxed();
                        F::call_rcu(move || drop(node));
                    }
                    F::rcu_barrier();
                }
                start.elapsed()
            })
        });
    }

    pub fn kvfree_flood<F: OurReclaim>(g: &mut Group<'_>, id: BenchmarkId) {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    F::kvfree_rcu(Node::new_boxed());
                }
                F::rcu_barrier();
                start.elapsed()
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = call_rcu_enqueue, call_rcu_raw_enqueue, kvfree_rcu_enqueue, kvfree_rcu_fast_path, call_rcu_then_barrier,
        callbacks_2m_then_barrier, kvfree_flood
}
criterion_main!(benches);
