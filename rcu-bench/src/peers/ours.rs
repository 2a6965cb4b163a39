//! This workspace's flavours as peers: one implementation of [`Peer`] for
//! every `F: RcuFlavour`, so a flavour joins the benchmarks with one entry
//! in [`crate::implementations`].

use crate::loops::{
    flood_loop, time_each, time_fast_path, time_in_bursts, time_lookups, time_over_nodes, time_read_pair,
};
use crate::peer::{
    count_bad, ConfigSession, ConfigStore, FloodLoop, Peer, ReclaimOp, Retire, RetireMode, Session, TableCell,
};
use crate::pin::CpuPlan;
use crate::reader::{reader_loop, ReadSide, ReaderShared};
use crate::workload::{free_raw_node, Config, Node, RawNode, Table};
use rcu_core::{RcuCell, RcuFlavour};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{compiler_fence, AtomicU64, Ordering};
use std::sync::Arc;

/// `read(f)` of the flavour's rayon pools: runs `f` with a guard on a pool
/// worker.
pub type PoolRead<F> = fn(&mut dyn for<'g> FnMut(&<F as RcuFlavour>::Guard<'g>));

/// Flavour `F` of this workspace, named `name` (`alias` on the command
/// line), with its rayon pool (from `rcu-rayon`, which is per flavour).
pub struct Ours<F: RcuFlavour> {
    name: &'static str,
    alias: &'static str,
    pool_builder: fn() -> rayon::ThreadPoolBuilder,
    pool_read: PoolRead<F>,
    _flavour: PhantomData<fn() -> F>,
}

impl<F: RcuFlavour> Ours<F> {
    /// The peer for `F`.
    pub const fn new(
        name: &'static str,
        alias: &'static str,
        pool_builder: fn() -> rayon::ThreadPoolBuilder,
        pool_read: PoolRead<F>,
    ) -> Self {
        Ours { name, alias, pool_builder, pool_read, _flavour: PhantomData }
    }
}

/// The flood ways of our flavours, by index.
const KVFREE_RCU: usize = 0;
const CALL_RCU: usize = 1;
const CALL_RCU_RAW: usize = 2;
const FLOOD_WAYS: &[&str] = &["kvfree_rcu", "call_rcu", "call_rcu_raw"];

/// A registered reader of `F`.
struct Reader<F: RcuFlavour>(F::Thread);

impl<F: RcuFlavour> ReadSide for Reader<F> {
    #[inline]
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _guard = F::read_lock(&self.0);
        f()
    }
    #[inline]
    fn quiescent_state(&mut self) {
        F::quiescent_state(&mut self.0);
    }
}

/// Queues `node` for freeing after a grace period through `call_rcu_raw`.
fn call_rcu_raw_free<F: RcuFlavour>(node: Box<RawNode>) {
    let node = Box::into_raw(node);
    // SAFETY: `node` is a valid leaked box; the head is its first field.
    let head = unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).head)) };
    // SAFETY: the head lives until `free_raw_node` frees the node, once.
    unsafe { F::call_rcu_raw(head, free_raw_node) }
}

/// `call_rcu` of a closure that drops `node`.
#[inline]
fn call_rcu_free<F: RcuFlavour>(node: Box<Node>) {
    F::call_rcu(move || drop(node));
}

/// The `-m call` / `-m kvfree` retirer: the flavour's function.
struct Retirer(fn(Box<Node>));

impl Retire for Retirer {
    fn retire(&mut self, node: Box<Node>) {
        (self.0)(node)
    }
}

impl<F: RcuFlavour> Peer for Ours<F> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alias(&self) -> &'static str {
        self.alias
    }

    fn run_reader(&self, shared: &ReaderShared, progress: &AtomicU64, read_cs_len: u64) -> (u64, u64) {
        let mut reader = Reader::<F>(F::register_thread());
        let result = reader_loop(&mut reader, shared, progress, read_cs_len);
        F::unregister_thread(reader.0);
        result
    }

    fn read_pair(&self, body: &mut Session<'_>) {
        let cell = RcuCell::<Node, F>::from_box(Node::new_boxed());
        let thread = F::register_thread();
        body(&mut |iters| {
            time_read_pair(iters, || {
                let guard = F::read_lock(&thread);
                cell.load(&guard).value
            })
        });
        F::unregister_thread(thread);
    }

    fn read_mostly_lookup(&self, plan: &CpuPlan, body: &mut Session<'_>) {
        let cell = Arc::new(RcuCell::<Table, F>::from_box(Table::new_boxed()));
        let w = cell.clone();
        let writer = crate::loops::PeriodicWriter::start(plan, move || w.replace_box(Table::new_boxed()));
        body(&mut |iters| {
            // Registered for the batch only: between batches (criterion's
            // analysis) the thread holds no grace period up.
            let mut thread = F::register_thread();
            let t = time_lookups(
                &mut thread,
                iters,
                |thread, key| {
                    let guard = F::read_lock(thread);
                    cell.load(&guard).lookup(key)
                },
                F::quiescent_state,
            );
            F::unregister_thread(thread);
            t
        });
        writer.stop();
    }

    fn quiescent_states(&self, body: &mut Session<'_>) {
        if !F::NEEDS_QUIESCENT_STATES {
            return;
        }
        let mut thread = F::register_thread();
        body(&mut |iters| {
            time_each(iters, || {
                F::quiescent_state(&mut thread);
                // As the shim's cmm_barrier(): keeps each call.
                compiler_fence(Ordering::SeqCst);
            })
        });
        F::unregister_thread(thread);
    }

    fn synchronize(&self) {
        F::synchronize_rcu();
    }
    fn grace_periods(&self) -> Option<u64> {
        Some(F::stats().grace_periods)
    }
    fn grace_periods_run(&self) -> Option<u64> {
        let s = F::stats();
        Some(s.grace_periods - s.synchronize_without_readers)
    }

    fn retirer(&self, mode: RetireMode) -> Box<dyn Retire> {
        let retire: fn(Box<Node>) = match mode {
            RetireMode::Kvfree => F::kvfree_rcu::<Box<Node>>,
            _ => call_rcu_free::<F>,
        };
        Box::new(Retirer(retire))
    }
    fn drain(&self, _mode: RetireMode) {
        F::rcu_barrier();
    }
    fn peak_callback_backlog(&self) -> Option<u64> {
        Some(F::stats().peak_callback_backlog)
    }

    fn flood_ways(&self) -> &'static [&'static str] {
        FLOOD_WAYS
    }
    fn flood(&self, way: usize, body: &mut dyn FnMut(&mut FloodLoop<'_>)) {
        match way {
            KVFREE_RCU => body(&mut |n, drain| flood_loop(n, drain, F::kvfree_rcu, F::rcu_barrier)),
            CALL_RCU => body(&mut |n, drain| flood_loop(n, drain, call_rcu_free::<F>, F::rcu_barrier)),
            CALL_RCU_RAW => body(&mut |n, drain| {
                for _ in 0..n {
                    call_rcu_raw_free::<F>(RawNode::new_boxed());
                }
                if drain {
                    F::rcu_barrier();
                }
            }),
            _ => panic!("{}: no flood way {way}", self.name),
        }
    }
    fn flood_drain(&self, _way: usize) {
        F::rcu_barrier();
    }
    fn kvfree_flood_ids(&self) -> Vec<(String, usize)> {
        vec![(self.name.to_string(), KVFREE_RCU)]
    }

    fn reclaim(&self, op: ReclaimOp, body: &mut Session<'_>) {
        match op {
            ReclaimOp::CallRcuEnqueue => {
                body(&mut |iters| time_in_bursts(iters, Node::new_boxed, call_rcu_free::<F>, F::rcu_barrier))
            }
            ReclaimOp::CallRcuRawEnqueue => {
                body(&mut |iters| time_in_bursts(iters, RawNode::new_boxed, call_rcu_raw_free::<F>, F::rcu_barrier))
            }
            ReclaimOp::KvfreeRcuEnqueue => body(&mut |iters| {
                let t = time_over_nodes(iters, F::kvfree_rcu);
                F::rcu_barrier();
                t
            }),
            // Untimed around each batch: the call that opens a block (slow
            // path: takes a cached block, arms the drain timer), and the
            // barrier that frees the batch.
            ReclaimOp::KvfreeRcuFastPath => body(&mut |iters| {
                time_fast_path(iters, F::kvfree_rcu, || F::kvfree_rcu(Node::new_boxed()), F::rcu_barrier)
            }),
            ReclaimOp::CallRcuThenBarrier => body(&mut |iters| {
                time_each(iters, || {
                    call_rcu_free::<F>(Node::new_boxed());
                    F::rcu_barrier();
                })
            }),
            ReclaimOp::CallbacksThenBarrier(n) => body(&mut |iters| {
                time_each(iters, || {
                    for _ in 0..n {
                        call_rcu_free::<F>(Node::new_boxed());
                    }
                    F::rcu_barrier();
                })
            }),
        }
    }

    fn config_store(&self) -> Option<(String, Box<dyn ConfigStore>)> {
        Some((format!("{}-cell", self.name), Box::new(CellStore::<F>(RcuCell::new(Config::new(0))))))
    }
    fn table_pool(&self) -> Option<(rayon::ThreadPoolBuilder, Box<dyn TableCell>)> {
        let cell = PoolTable::<F> { cell: RcuCell::from_box(Table::new_boxed()), read: self.pool_read };
        Some(((self.pool_builder)(), Box::new(cell)))
    }
}

/// The configuration in an `RcuCell`: a read is a section, `load`, a
/// field; a reload `replace`s (the old value goes to `kvfree_rcu`), or
/// `swap`s and waits for the grace period.
struct CellStore<F: RcuFlavour>(RcuCell<Config, F>);

impl<F: RcuFlavour> ConfigStore for CellStore<F> {
    fn read_session(&self, body: &mut ConfigSession<'_>) {
        let mut thread = F::register_thread();
        body(&mut |first| {
            let bad = count_bad(first, |i| {
                let guard = F::read_lock(&thread);
                self.0.load(&guard).read_ok(i)
            });
            F::quiescent_state(&mut thread);
            bad
        });
        F::unregister_thread(thread);
    }
    fn reload(&self, next: Config) {
        self.0.replace(next);
    }
    fn reload_and_wait(&self, next: Config) -> Result<(), Config> {
        drop(self.0.swap(next).into_inner_after_grace_period());
        Ok(())
    }
}

/// The lookup table in an `RcuCell`, read on the flavour's rayon pool.
struct PoolTable<F: RcuFlavour> {
    cell: RcuCell<Table, F>,
    read: PoolRead<F>,
}

impl<F: RcuFlavour> TableCell for PoolTable<F> {
    fn hits(&self, keys: &[u64]) -> usize {
        let mut hits = 0;
        (self.read)(&mut |guard| {
            let table = self.cell.load(guard);
            hits = keys.iter().filter(|&&k| table.lookup(k)).count();
        });
        hits
    }
    fn replace(&self) {
        self.cell.replace_box(Table::new_boxed());
    }
}
