//! The peer interface: everything a workload or a criterion bench asks of
//! an implementation under test, as one object-safe trait, so each
//! workload is written once and each implementation once.
//!
//! Measured loops stay monomorphised inside the implementation: a workload
//! gets a *session* (the thread registered, the data published) and calls
//! its timed loop once per batch of iterations, one dynamic call per batch.

use crate::reader::ReaderShared;
use crate::workload::{Config, Node};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// A timed loop of a session: `iters` iterations, returns their time.
pub type TimedLoop<'a> = dyn FnMut(u64) -> Duration + 'a;
/// What runs inside a session, given its timed loop.
pub type Session<'a> = dyn FnMut(&mut TimedLoop<'_>) + 'a;
/// A flood loop of a session: `n` objects retired, then (if `drain`) every
/// one of them freed.
pub type FloodLoop<'a> = dyn FnMut(u64, bool) + 'a;
/// One chunk of [`CONFIG_CHUNK`] configuration reads from read number
/// `first`: returns its mismatches.
pub type ConfigChunk<'a> = dyn FnMut(u64) -> u64 + 'a;
/// What runs inside a configuration read session, given its chunk.
pub type ConfigSession<'a> = dyn FnMut(&mut ConfigChunk<'_>) + 'a;

/// How `rcu-bench run` writers retire the node they replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RetireMode {
    /// `synchronize_rcu()` (every `batch` retirements), then free.
    Sync,
    /// Queue a callback that frees it (`call_rcu`).
    Call,
    /// Queue a headless free (`kvfree_rcu`).
    Kvfree,
}

impl RetireMode {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RetireMode::Sync => "sync",
            RetireMode::Call => "call",
            RetireMode::Kvfree => "kvfree",
        }
    }
}

/// A writer thread's way of retiring nodes without waiting (`-m call`,
/// `-m kvfree`).
pub trait Retire {
    /// Retires `node`, unpublished by this writer.
    fn retire(&mut self, node: Box<Node>);
}

/// The deferred-free operations of the `reclaim` criterion bench.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReclaimOp {
    /// Queue a callback that frees a node, in untimed-drained bursts.
    CallRcuEnqueue,
    /// The intrusive form of the same (liburcu's only form).
    CallRcuRawEnqueue,
    /// Headless deferred free of a node, sustained.
    KvfreeRcuEnqueue,
    /// `kvfree_rcu` appending to the thread's open block (ours only).
    KvfreeRcuFastPath,
    /// One callback, then a barrier.
    CallRcuThenBarrier,
    /// This many callbacks, then a barrier.
    CallbacksThenBarrier(u64),
}

/// A configuration holder read by N threads and reloaded by one.
pub trait ConfigStore: Sync {
    /// Registers the calling thread as a reader, hands `body` a function
    /// that does one chunk of [`CONFIG_CHUNK`] reads (from read number
    /// `first`, returning its mismatches), and unregisters. One dynamic
    /// call per chunk; the reads inside are inlined.
    fn read_session(&self, body: &mut ConfigSession<'_>);
    /// Publishes `next`; the old value is freed when no reader holds it.
    fn reload(&self, next: Config);
    /// Publishes `next` and waits until the old value can be freed; hands
    /// `next` back if the holder has no such operation.
    fn reload_and_wait(&self, next: Config) -> Result<(), Config> {
        Err(next)
    }
}

/// Reads per chunk of a [`ConfigStore`] session (and between QSBR
/// quiescent states).
pub const CONFIG_CHUNK: u64 = 1024;

/// Mismatches among the reads `first..first + CONFIG_CHUNK`.
#[inline]
pub fn count_bad(first: u64, mut read: impl FnMut(u64) -> bool) -> u64 {
    (first..first + CONFIG_CHUNK).map(|i| u64::from(!read(i))).sum()
}

/// A lookup table behind a cell, read a chunk of keys at a time on a
/// rayon pool.
pub trait TableCell: Sync {
    /// Hits among `keys`, read under one read scope.
    fn hits(&self, keys: &[u64]) -> usize;
    /// Publishes a fresh table and retires the old one.
    fn replace(&self);
}

/// An implementation under test (see [`crate::implementations`]).
pub trait Peer: Sync {
    /// The name in reports and on the command line.
    fn name(&self) -> &'static str;
    /// A short name also accepted on the command line.
    fn alias(&self) -> &'static str;
    /// Whether it has a synchronous grace-period wait.
    fn has_synchronize(&self) -> bool {
        true
    }

    /// liburcu `test_urcu`'s reader loop on the calling thread (registered
    /// first) until `shared.stop`; returns (reads, mismatches).
    fn run_reader(&self, shared: &ReaderShared, progress: &AtomicU64, read_cs_len: u64) -> (u64, u64);
    /// `read_pair`: a session whose loop runs back-to-back read-side
    /// sections, each dereferencing a published node; no writer.
    fn read_pair(&self, body: &mut Session<'_>);
    /// `read_mostly_lookup`: a session whose loop looks keys up in a table
    /// a writer (pinned as thread 1 of `plan`) replaces every millisecond.
    fn read_mostly_lookup(&self, plan: &crate::pin::CpuPlan, body: &mut Session<'_>);
    /// `qsbr_quiescent_state`: a session whose loop announces quiescent
    /// states; `body` is not called where there are none.
    fn quiescent_states(&self, body: &mut Session<'_>) {
        let _ = body;
    }

    /// Waits for a grace period from a thread that is not one of its
    /// readers. Only where [`has_synchronize`](Self::has_synchronize).
    fn synchronize(&self);
    /// Grace periods completed so far, where counted.
    fn grace_periods(&self) -> Option<u64> {
        None
    }
    /// Grace periods actually run so far (calls answered without one
    /// excluded), where counted.
    fn grace_periods_run(&self) -> Option<u64> {
        None
    }
    /// Whether its grace periods are counted by `membarrier` calls, two
    /// each, instead (liburcu memb).
    fn gps_from_membarriers(&self) -> bool {
        false
    }

    /// A writer thread's retirer for `mode` (`Call` or `Kvfree`), created on
    /// that thread.
    fn retirer(&self, mode: RetireMode) -> Box<dyn Retire>;
    /// Waits until everything retired with `mode` has been freed.
    fn drain(&self, mode: RetireMode);
    /// Largest callback backlog so far in this process, where counted.
    fn peak_callback_backlog(&self) -> Option<u64> {
        None
    }
    /// Ways of retiring flood objects; flood kinds are named
    /// `<name>-<way>`.
    fn flood_ways(&self) -> &'static [&'static str];
    /// A flood session for way number `way` on the calling thread.
    fn flood(&self, way: usize, body: &mut dyn FnMut(&mut FloodLoop<'_>));
    /// Waits until every object of flood way `way` has been freed.
    fn flood_drain(&self, way: usize);
    /// The `kvfree_flood` criterion entries: (bench id, flood way).
    fn kvfree_flood_ids(&self) -> Vec<(String, usize)>;
    /// A session timing `op`; `body` is not called where `op` has no
    /// equivalent.
    fn reclaim(&self, op: ReclaimOp, body: &mut Session<'_>);

    /// Its configuration holder, named in reports, where it has one.
    fn config_store(&self) -> Option<(String, Box<dyn ConfigStore>)> {
        None
    }
    /// Its rayon pool builder and table cell for the `par_iter` row, where
    /// it has them.
    fn table_pool(&self) -> Option<(rayon::ThreadPoolBuilder, Box<dyn TableCell>)> {
        None
    }
}
