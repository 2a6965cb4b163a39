//! Read-side costs, one group per operation, one `BenchmarkId` per
//! implementation:
//!
//! * `read_pair`: read lock, dereference of the published node, unlock;
//!   no writer. QSBR's sections are free, so its figure is the load and the
//!   loop.
//! * `read_mostly_lookup`: read lock, binary search in a 1,024-key table,
//!   unlock, while a writer replaces the table every millisecond (retiring
//!   the old one through each implementation's own mechanism). QSBR readers
//!   announce a quiescent state every 1,024 lookups.
//! * `qsbr_quiescent_state`: one quiescent state with no grace period
//!   pending (QSBR implementations only).
//!
//! Every measured loop is written the same way: `iter_custom` with a plain
//! counted loop, in Rust for the Rust implementations and in the liburcu
//! shim (C, `_LGPL_SOURCE`) for liburcu, so no implementation pays an FFI
//! call per read.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rcu_bench::implementation::{Implementation, ReadSide};
use rcu_bench::pin::CpuPlan;
use rcu_bench::workload::{Node, Table};
use std::hint::black_box;
use std::sync::atomic::{compiler_fence, AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the lookup bench's writer replaces the table.
const WRITER_PERIOD: Duration = Duration::from_millis(1);

fn read_pair(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("read_pair");
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => {
                let cell = rcu_memb::RcuCell::from_box(Node::new_boxed());
                rcu_memb::register_thread();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let mut sum = 0u64;
                        for _ in 0..iters {
                            let guard = rcu_memb::read_lock();
                            sum += cell.load(&guard).value;
                        }
                        let t = start.elapsed();
                        black_box(sum);
                        t
                    })
                });
            }
            Implementation::Qsbr => {
                let cell = rcu_qsbr::RcuCell::from_box(Node::new_boxed());
                let thread = rcu_qsbr::register_thread();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let mut sum = 0u64;
                        for _ in 0..iters {
                            let guard = thread.read_lock();
                            sum += cell.load(&guard).value;
                        }
                        let t = start.elapsed();
                        black_box(sum);
                        t
                    })
                });
                drop(thread);
            }
            Implementation::Epoch => {
                let atomic: crossbeam_epoch::Atomic<Node> =
                    crossbeam_epoch::Atomic::from(crossbeam_epoch::Owned::from(Node::new_boxed()));
                let handle = crossbeam_epoch::default_collector().register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let mut sum = 0u64;
                        for _ in 0..iters {
                            let guard = handle.pin();
                            // Acquire: pairs with the publication (Owned::from
                            // above); rcu_dereference.
                            let node = atomic.load(Ordering::Acquire, &guard);
                            // SAFETY: the node is never retired in this bench.
                            sum += unsafe { node.deref() }.value;
                        }
                        let t = start.elapsed();
                        black_box(sum);
                        t
                    })
                });
                // SAFETY: no reader is left; the pointer came from Owned.
                drop(unsafe { atomic.into_owned() });
            }
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu_read_pair::<rcu_bench::liburcu::LibMemb>(&mut g, id),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu_read_pair::<rcu_bench::liburcu::LibQsbr>(&mut g, id),
        }
    }
    g.finish();
}

#[cfg(feature = "liburcu")]
fn liburcu_read_pair<F: rcu_bench::liburcu::Urcu>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
) {
    let shared = rcu_bench::implementation::ReaderShared::new();
    let mut thread = rcu_bench::liburcu::UrcuThread::<F>::register();
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let sum = thread.read_loop(iters, &shared.slot);
            let t = start.elapsed();
            black_box(sum);
            t
        })
    });
}

/// A thread that replaces the lookup table every [`WRITER_PERIOD`] until
/// dropped.
struct PeriodicWriter {
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl PeriodicWriter {
    fn start(plan: &CpuPlan, mut replace: impl FnMut() + Send + 'static) -> Self {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (flag, plan) = (stop.clone(), plan.clone());
        let thread = std::thread::spawn(move || {
            plan.pin(1);
            let mut updates = 0;
            // Relaxed: a stop flag; the join orders everything else.
            while !flag.load(Ordering::Relaxed) {
                replace();
                updates += 1;
                std::thread::sleep(WRITER_PERIOD);
            }
            updates
        });
        PeriodicWriter { stop, thread: Some(thread) }
    }

    /// Stops the writer; the caller must not hold up its grace period (a
    /// QSBR reader goes offline first).
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().expect("writer panicked"))
    }
}

/// The Rust lookup loop shared by the Rust implementations: the same shape
/// as the shim's `lookup_loop`.
#[inline]
fn rust_lookup_loop<R: ReadSide>(reader: &mut R, iters: u64, lookup: impl Fn(&mut R, u64) -> bool) -> u64 {
    let (mut found, mut key) = (0u64, 0u64);
    for i in 1..=iters {
        found += lookup(reader, key) as u64;
        key += Table::KEY_STRIDE;
        if key >= Table::KEY_SPACE {
            key -= Table::KEY_SPACE;
        }
        if i & 1023 == 0 {
            reader.quiescent_state();
        }
    }
    found
}

fn read_mostly_lookup(c: &mut Criterion) {
    let plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("read_mostly_lookup");
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            Implementation::Memb => {
                let cell = std::sync::Arc::new(rcu_memb::RcuCell::from_box(Table::new_boxed()));
                let w = cell.clone();
                let writer = PeriodicWriter::start(&plan, move || w.replace_box(Table::new_boxed()));
                let mut reader = rcu_bench::implementation::MembReader::register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let found = rust_lookup_loop(&mut reader, iters, |_, key| {
                            let guard = rcu_memb::read_lock();
                            cell.load(&guard).lookup(key)
                        });
                        let t = start.elapsed();
                        black_box(found);
                        t
                    })
                });
                writer.stop();
            }
            Implementation::Qsbr => {
                let cell = std::sync::Arc::new(rcu_qsbr::RcuCell::from_box(Table::new_boxed()));
                let w = cell.clone();
                let writer = PeriodicWriter::start(&plan, move || w.replace_box(Table::new_boxed()));
                let mut reader = rcu_bench::implementation::QsbrReader::register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        reader.0.online();
                        let start = Instant::now();
                        let found = rust_lookup_loop(&mut reader, iters, |r, key| {
                            let guard = r.0.read_lock();
                            cell.load(&guard).lookup(key)
                        });
                        let t = start.elapsed();
                        // Offline between batches: criterion's analysis
                        // between them must not hold the writer up.
                        reader.0.offline();
                        black_box(found);
                        t
                    })
                });
                drop(reader);
                writer.stop();
            }
            Implementation::Epoch => {
                use crossbeam_epoch::{Atomic, Owned};
                let atomic: std::sync::Arc<Atomic<Table>> =
                    std::sync::Arc::new(Atomic::from(Owned::from(Table::new_boxed())));
                let w = atomic.clone();
                let writer = PeriodicWriter::start(&plan, move || {
                    let guard = crossbeam_epoch::pin();
                    // AcqRel: Release publishes the new table (pairs with the
                    // readers' Acquire load); Acquire orders the old one's
                    // contents before its destruction.
                    let old = w.swap(Owned::from(Table::new_boxed()), Ordering::AcqRel, &guard);
                    // SAFETY: `old` is unpublished; readers that loaded it
                    // are pinned, and defer_destroy waits for them.
                    unsafe { guard.defer_destroy(old) };
                });
                let mut reader = rcu_bench::implementation::EpochReader::register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let found = rust_lookup_loop(&mut reader, iters, |r, key| {
                            let guard = r.0.pin();
                            // Acquire: pairs with the writer's swap.
                            let t = atomic.load(Ordering::Acquire, &guard);
                            // SAFETY: retired only through defer_destroy,
                            // which waits for this pin.
                            unsafe { t.deref() }.lookup(key)
                        });
                        let t = start.elapsed();
                        black_box(found);
                        t
                    })
                });
                writer.stop();
                let guard = crossbeam_epoch::pin();
                // SAFETY: the writer has stopped; the last table is owned here
                // and readers of this bench are done (the deferred ones are
                // handled by the collector).
                unsafe { guard.defer_destroy(atomic.load(Ordering::Acquire, &guard)) };
            }
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => liburcu_lookup::<rcu_bench::liburcu::LibMemb>(&mut g, id, &plan),
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => liburcu_lookup::<rcu_bench::liburcu::LibQsbr>(&mut g, id, &plan),
        }
    }
    g.finish();
}

#[cfg(feature = "liburcu")]
fn liburcu_lookup<F: rcu_bench::liburcu::Urcu>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    plan: &CpuPlan,
) {
    use std::sync::atomic::AtomicPtr;
    use std::sync::Arc;
    let slot: Arc<AtomicPtr<Table>> = Arc::new(AtomicPtr::new(Box::into_raw(Table::new_boxed())));
    let w = slot.clone();
    let writer = PeriodicWriter::start(plan, move || {
        // AcqRel: Release publishes the new table to the C readers'
        // rcu_dereference; Acquire orders the old table before its free.
        let old = w.swap(Box::into_raw(Table::new_boxed()), Ordering::AcqRel);
        F::synchronize_rcu();
        // SAFETY: unpublished, and a grace period has passed.
        drop(unsafe { Box::from_raw(old) });
    });
    let mut thread = rcu_bench::liburcu::UrcuThread::<F>::register();
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let found = thread.lookup_loop(iters, &slot, Table::KEY_STRIDE, Table::KEY_SPACE);
            let t = start.elapsed();
            // As for rcu-qsbr: offline between batches.
            thread.offline();
            black_box(found);
            t
        })
    });
    drop(thread);
    writer.stop();
    // SAFETY: the writer and the reader are gone.
    drop(unsafe { Box::from_raw(slot.load(Ordering::Acquire)) });
}

fn qsbr_quiescent_state(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("qsbr_quiescent_state");
    for &imp in Implementation::ALL {
        let id = BenchmarkId::from_parameter(imp.name());
        match imp {
            // Only QSBR flavours have quiescent states.
            Implementation::Memb | Implementation::Epoch => {}
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuMemb => {}
            Implementation::Qsbr => {
                let mut thread = rcu_qsbr::register_thread();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            thread.quiescent_state();
                            // As the shim's cmm_barrier(): keeps each call.
                            compiler_fence(Ordering::SeqCst);
                        }
                        start.elapsed()
                    })
                });
            }
            #[cfg(feature = "liburcu")]
            Implementation::LiburcuQsbr => {
                let mut thread = rcu_bench::liburcu::UrcuThread::<rcu_bench::liburcu::LibQsbr>::register();
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        thread.quiescent_loop(iters);
                        start.elapsed()
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = read_pair, read_mostly_lookup, qsbr_quiescent_state
}
criterion_main!(benches);
