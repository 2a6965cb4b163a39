//! liburcu's flavours as peers, one implementation of [`Peer`] for both.
//!
//! Threads that queue deferred frees stay registered but offline: liburcu's
//! `call_rcu` accepts that, its reclaim thread's grace periods then do not
//! wait for them (an online QSBR thread that never announces a quiescent
//! state would stall them), and its `rcu_barrier` silently returns when
//! called from an online QSBR thread.

use super::{call_rcu_free_node, defer_barrier, defer_free_node, Urcu, UrcuThread};
use crate::loops::{flood_loop, time_in_bursts, time_over_nodes, PeriodicWriter};
use crate::peer::{FloodLoop, Peer, ReclaimOp, Retire, RetireMode, Session};
use crate::pin::CpuPlan;
use crate::reader::ReaderShared;
use crate::workload::{Node, Table, NODE_VALUE};
use std::hint::black_box;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// liburcu flavour `F` as a peer.
pub struct UrcuPeer<F: Urcu>(PhantomData<fn() -> F>);

impl<F: Urcu> UrcuPeer<F> {
    /// The peer.
    pub const fn new() -> Self {
        UrcuPeer(PhantomData)
    }
}

impl<F: Urcu> Default for UrcuPeer<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// The flood ways, by index.
const CALL_RCU: usize = 0;
const DEFER_RCU: usize = 1;

/// The calling thread registered and offline, for queueing.
fn offline_thread<F: Urcu>() -> UrcuThread<F> {
    let mut thread = UrcuThread::<F>::register();
    thread.offline();
    thread
}

/// `-m call` (liburcu `call_rcu`, intrusive head) or `-m kvfree`
/// (`defer_rcu`).
enum Retirer<F: Urcu> {
    Call(UrcuThread<F>),
    Defer,
}

impl<F: Urcu> Retire for Retirer<F> {
    fn retire(&mut self, node: Box<Node>) {
        match self {
            Retirer::Call(thread) => call_rcu_free_node(thread, node),
            Retirer::Defer => defer_free_node::<F>(node),
        }
    }
}

impl<F: Urcu> Peer for UrcuPeer<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }
    fn alias(&self) -> &'static str {
        F::NAME.trim_start_matches("lib")
    }

    fn run_reader(&self, shared: &ReaderShared, progress: &AtomicU64, read_cs_len: u64) -> (u64, u64) {
        UrcuThread::<F>::register().reader_run(&shared.slot, &shared.stop, progress, read_cs_len, NODE_VALUE)
    }

    fn read_pair(&self, body: &mut Session<'_>) {
        let shared = ReaderShared::new();
        let mut thread = UrcuThread::<F>::register();
        body(&mut |iters| {
            let start = Instant::now();
            let sum = thread.read_loop(iters, &shared.slot);
            let t = start.elapsed();
            black_box(sum);
            t
        });
    }

    fn read_mostly_lookup(&self, plan: &CpuPlan, body: &mut Session<'_>) {
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
        let mut thread = UrcuThread::<F>::register();
        body(&mut |iters| {
            let start = Instant::now();
            let found = thread.lookup_loop(iters, &slot, Table::KEY_STRIDE, Table::KEY_SPACE);
            let t = start.elapsed();
            // Offline between batches: criterion's analysis between them
            // must not hold the writer up.
            thread.offline();
            black_box(found);
            t
        });
        drop(thread);
        writer.stop();
        // SAFETY: the writer and the reader are gone. Acquire pairs with the
        // writer's last swap.
        drop(unsafe { Box::from_raw(slot.load(Ordering::Acquire)) });
    }

    fn quiescent_states(&self, body: &mut Session<'_>) {
        if !F::IS_QSBR {
            return;
        }
        let mut thread = UrcuThread::<F>::register();
        body(&mut |iters| {
            let start = Instant::now();
            thread.quiescent_loop(iters);
            start.elapsed()
        });
    }

    fn synchronize(&self) {
        F::synchronize_rcu();
    }
    fn grace_periods_run(&self) -> Option<u64> {
        F::grace_periods()
    }
    fn gps_from_membarriers(&self) -> bool {
        !F::IS_QSBR
    }

    fn retirer(&self, mode: RetireMode) -> Box<dyn Retire> {
        match mode {
            RetireMode::Kvfree => Box::new(Retirer::<F>::Defer),
            _ => {
                let mut thread = UrcuThread::<F>::register();
                if F::IS_QSBR {
                    thread.offline();
                }
                Box::new(Retirer::Call(thread))
            }
        }
    }
    fn drain(&self, mode: RetireMode) {
        match mode {
            RetireMode::Kvfree => defer_barrier::<F>(),
            _ => F::rcu_barrier(),
        }
    }

    fn flood_ways(&self) -> &'static [&'static str] {
        &["call_rcu", "defer_rcu"]
    }
    fn flood(&self, way: usize, body: &mut dyn FnMut(&mut FloodLoop<'_>)) {
        let thread = offline_thread::<F>();
        match way {
            CALL_RCU => {
                body(&mut |n, drain| flood_loop(n, drain, |node| call_rcu_free_node(&thread, node), F::rcu_barrier))
            }
            DEFER_RCU => body(&mut |n, drain| flood_loop(n, drain, defer_free_node::<F>, defer_barrier::<F>)),
            _ => panic!("{}: no flood way {way}", F::NAME),
        }
    }
    fn flood_drain(&self, way: usize) {
        self.drain(if way == DEFER_RCU { RetireMode::Kvfree } else { RetireMode::Call });
    }
    fn kvfree_flood_ids(&self) -> Vec<(String, usize)> {
        self.flood_ways().iter().enumerate().map(|(i, way)| (format!("{}-{way}", F::NAME), i)).collect()
    }

    fn reclaim(&self, op: ReclaimOp, body: &mut Session<'_>) {
        let thread = offline_thread::<F>();
        let free = |node| call_rcu_free_node(&thread, node);
        match op {
            // liburcu's call_rcu has only the intrusive form: the reference
            // for both.
            ReclaimOp::CallRcuEnqueue | ReclaimOp::CallRcuRawEnqueue => {
                body(&mut |iters| time_in_bursts(iters, Node::new_boxed, free, F::rcu_barrier))
            }
            ReclaimOp::KvfreeRcuEnqueue => body(&mut |iters| {
                let t = time_over_nodes(iters, defer_free_node::<F>);
                defer_barrier::<F>();
                t
            }),
            ReclaimOp::KvfreeRcuFastPath => {}
            ReclaimOp::CallRcuThenBarrier => body(&mut |iters| {
                crate::loops::time_each(iters, || {
                    free(Node::new_boxed());
                    F::rcu_barrier();
                })
            }),
            ReclaimOp::CallbacksThenBarrier(n) => body(&mut |iters| {
                crate::loops::time_each(iters, || {
                    for _ in 0..n {
                        free(Node::new_boxed());
                    }
                    F::rcu_barrier();
                })
            }),
        }
    }
}
