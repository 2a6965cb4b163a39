//! crossbeam-epoch as a peer: `pin` for read-side sections, `defer` and
//! `defer_destroy` for deferred frees, `flush` for draining. It has no
//! synchronous grace-period wait and no barrier.

use crate::loops::{flood_loop, time_in_bursts, time_lookups, time_over_nodes, time_read_pair, PeriodicWriter};
use crate::peer::{
    count_bad, ConfigSession, ConfigStore, FloodLoop, Peer, ReclaimOp, Retire, RetireMode, Session, TableCell,
};
use crate::pin::CpuPlan;
use crate::reader::{reader_loop, ReadSide, ReaderShared};
use crate::workload::{Config, Node, Table};
use crossbeam_epoch::{Atomic, LocalHandle, Owned, Shared};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// crossbeam-epoch with its default collector.
#[derive(Debug)]
pub struct Epoch;

/// A handle registered with the default collector: its fastest documented
/// pin (no thread-local lookup per pin).
fn register() -> LocalHandle {
    crossbeam_epoch::default_collector().register()
}

/// Drives the collector until what was deferred so far has been collected
/// as far as pinning can force it (there is no barrier).
fn flush(handle: &LocalHandle) {
    for _ in 0..4 {
        handle.pin().flush();
    }
}

/// `defer_destroy` of an unpublished node.
#[inline]
fn defer_destroy(handle: &LocalHandle, node: Box<Node>) {
    let guard = handle.pin();
    let shared = Shared::from(Box::into_raw(node).cast_const());
    // SAFETY: the node is unpublished (never published, or unpublished by
    // the caller's exchange); destroying it once every guard pinned at
    // this point has unpinned is safe.
    unsafe { guard.defer_destroy(shared) };
}

struct Reader(LocalHandle);

impl ReadSide for Reader {
    #[inline]
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.pin();
        f()
    }
}

/// `-m call` (`Guard::defer` of a closure) or `-m kvfree`
/// (`defer_destroy`).
struct Retirer {
    handle: LocalHandle,
    destroy: bool,
}

impl Retire for Retirer {
    fn retire(&mut self, node: Box<Node>) {
        if self.destroy {
            defer_destroy(&self.handle, node);
        } else {
            self.handle.pin().defer(move || drop(node));
        }
    }
}

/// Publishes a fresh `Owned` value in `atomic` and defers the old one's
/// destruction.
fn swap_and_defer<T>(atomic: &Atomic<T>, next: Owned<T>) {
    let guard = crossbeam_epoch::pin();
    // AcqRel: Release publishes `next` to the readers' Acquire loads;
    // Acquire orders the old value's contents before its destruction.
    let old = atomic.swap(next, Ordering::AcqRel, &guard);
    // SAFETY: `old` is unpublished; defer_destroy drops it once every guard
    // that could have loaded it is gone.
    unsafe { guard.defer_destroy(old) };
}

impl Peer for Epoch {
    fn name(&self) -> &'static str {
        "crossbeam-epoch"
    }
    fn alias(&self) -> &'static str {
        "epoch"
    }
    fn has_synchronize(&self) -> bool {
        false
    }

    fn run_reader(&self, shared: &ReaderShared, progress: &AtomicU64, read_cs_len: u64) -> (u64, u64) {
        reader_loop(&mut Reader(register()), shared, progress, read_cs_len)
    }

    fn read_pair(&self, body: &mut Session<'_>) {
        let atomic: Atomic<Node> = Atomic::from(Owned::from(Node::new_boxed()));
        let handle = register();
        body(&mut |iters| {
            time_read_pair(iters, || {
                let guard = handle.pin();
                // Acquire: pairs with the publication (Owned::from above);
                // rcu_dereference.
                let node = atomic.load(Ordering::Acquire, &guard);
                // SAFETY: the node is never retired in this loop.
                unsafe { node.deref() }.value
            })
        });
        // SAFETY: no reader is left; the pointer came from Owned.
        drop(unsafe { atomic.into_owned() });
    }

    fn read_mostly_lookup(&self, plan: &CpuPlan, body: &mut Session<'_>) {
        let atomic: Arc<Atomic<Table>> = Arc::new(Atomic::from(Owned::from(Table::new_boxed())));
        let w = atomic.clone();
        let writer = PeriodicWriter::start(plan, move || swap_and_defer(&w, Owned::from(Table::new_boxed())));
        let mut reader = register();
        body(&mut |iters| {
            time_lookups(
                &mut reader,
                iters,
                |handle, key| {
                    let guard = handle.pin();
                    // Acquire: pairs with the writer's swap.
                    let t = atomic.load(Ordering::Acquire, &guard);
                    // SAFETY: retired only through defer_destroy, which
                    // waits for this pin.
                    unsafe { t.deref() }.lookup(key)
                },
                |_| {},
            )
        });
        writer.stop();
        let guard = crossbeam_epoch::pin();
        // SAFETY: the writer has stopped; the last table is reachable only
        // from here, and readers pinned before are handled by the collector.
        // Acquire: pairs with the writer's last swap (its join orders it
        // too).
        unsafe { guard.defer_destroy(atomic.load(Ordering::Acquire, &guard)) };
    }

    fn synchronize(&self) {
        panic!("crossbeam-epoch has no synchronize_rcu");
    }

    fn retirer(&self, mode: RetireMode) -> Box<dyn Retire> {
        Box::new(Retirer { handle: register(), destroy: mode == RetireMode::Kvfree })
    }
    fn drain(&self, _mode: RetireMode) {
        flush(&register());
    }

    fn flood_ways(&self) -> &'static [&'static str] {
        &["defer_destroy"]
    }
    fn flood(&self, _way: usize, body: &mut dyn FnMut(&mut FloodLoop<'_>)) {
        let handle = register();
        body(&mut |n, drain| flood_loop(n, drain, |node| defer_destroy(&handle, node), || flush(&handle)));
    }
    fn flood_drain(&self, _way: usize) {
        flush(&register());
    }
    fn kvfree_flood_ids(&self) -> Vec<(String, usize)> {
        vec![(self.name().to_string(), 0)]
    }

    fn reclaim(&self, op: ReclaimOp, body: &mut Session<'_>) {
        let handle = register();
        match op {
            ReclaimOp::CallRcuEnqueue => body(&mut |iters| {
                time_in_bursts(iters, Node::new_boxed, |node| handle.pin().defer(move || drop(node)), || flush(&handle))
            }),
            ReclaimOp::KvfreeRcuEnqueue => body(&mut |iters| {
                let t = time_over_nodes(iters, |node| defer_destroy(&handle, node));
                flush(&handle);
                t
            }),
            // No intrusive form, no barrier, no fast path of its own.
            _ => {}
        }
    }

    fn config_store(&self) -> Option<(String, Box<dyn ConfigStore>)> {
        Some((self.name().to_string(), Box::new(EpochStore(Atomic::new(Config::new(0))))))
    }
    fn table_pool(&self) -> Option<(rayon::ThreadPoolBuilder, Box<dyn TableCell>)> {
        let table = EpochStore(Atomic::from(Owned::from(Table::new_boxed())));
        Some((rayon::ThreadPoolBuilder::new(), Box::new(table)))
    }
}

/// A value in an `Atomic`, loaded under `pin`, replaced with `swap` +
/// `defer_destroy`.
struct EpochStore<T>(Atomic<T>);

impl ConfigStore for EpochStore<Config> {
    fn read_session(&self, body: &mut ConfigSession<'_>) {
        let handle = register();
        body(&mut |first| {
            count_bad(first, |i| {
                let guard = handle.pin();
                // Acquire pairs with the AcqRel swap in `swap_and_defer`.
                let p = self.0.load(Ordering::Acquire, &guard);
                // SAFETY: never null (set at creation, swapped for non-null
                // values); freed only by defer_destroy, which waits for
                // every guard pinned before the swap, such as this one.
                unsafe { p.deref() }.read_ok(i)
            })
        });
    }
    fn reload(&self, next: Config) {
        swap_and_defer(&self.0, Owned::new(next));
    }
}

impl TableCell for EpochStore<Table> {
    fn hits(&self, keys: &[u64]) -> usize {
        let guard = crossbeam_epoch::pin();
        // Acquire pairs with the AcqRel swap in `swap_and_defer`.
        let p = self.0.load(Ordering::Acquire, &guard);
        // SAFETY: never null; freed only by defer_destroy after this pin.
        let table = unsafe { p.deref() };
        keys.iter().filter(|&&k| table.lookup(k)).count()
    }
    fn replace(&self) {
        swap_and_defer(&self.0, Owned::from(Table::new_boxed()));
    }
}

impl<T> Drop for EpochStore<T> {
    fn drop(&mut self) {
        // SAFETY: the run is over: no reader or writer is left, so the
        // current value is reachable only from here. Relaxed: the joins of
        // those threads ordered their swaps before this load.
        unsafe { drop(self.0.load(Ordering::Relaxed, crossbeam_epoch::unprotected()).into_owned()) };
    }
}
