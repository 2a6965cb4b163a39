//! The measured loops and their timing helpers, written once for every
//! implementation and shared by the criterion benches and the harness, so
//! a figure of one name is the same loop wherever it is measured.

use crate::pin::CpuPlan;
use crate::workload::{Node, Table};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Calls per timed burst in the `call_rcu*_enqueue` loops: half our
/// default hard backlog limit, so that a burst measures the call, not a
/// producer waiting for reclaim (the same bursts for every implementation).
pub const ENQUEUE_BURST: u64 = 100_000;

/// Calls per timed batch of the `kvfree_rcu` fast path: with the untimed
/// opening call, fewer than a 4 KiB block holds (two words per `Box<Node>`
/// entry).
pub const FAST_PATH_BATCH: u64 = 128;

/// How often the lookup loop's writer replaces the table.
pub const WRITER_PERIOD: Duration = Duration::from_millis(1);

/// Times `iters` runs of `section()`, summing what each returns (kept
/// alive with `black_box`): the `read_pair` loop.
#[inline]
pub fn time_read_pair(iters: u64, mut section: impl FnMut() -> u64) -> Duration {
    let start = Instant::now();
    let mut sum = 0u64;
    for _ in 0..iters {
        sum += section();
    }
    let t = start.elapsed();
    black_box(sum);
    t
}

/// Times `iters` lookups, `lookup(reader, key)` over the key walk of
/// [`Table`], with `quiescent(reader)` every 1,024 lookups: the
/// `read_mostly_lookup` loop, the same shape as the shim's `lookup_loop`.
#[inline]
pub fn time_lookups<R>(
    reader: &mut R,
    iters: u64,
    mut lookup: impl FnMut(&mut R, u64) -> bool,
    mut quiescent: impl FnMut(&mut R),
) -> Duration {
    let start = Instant::now();
    let (mut found, mut key) = (0u64, 0u64);
    for i in 1..=iters {
        found += lookup(reader, key) as u64;
        key += Table::KEY_STRIDE;
        if key >= Table::KEY_SPACE {
            key -= Table::KEY_SPACE;
        }
        if i & 1023 == 0 {
            quiescent(reader);
        }
    }
    let t = start.elapsed();
    black_box(found);
    t
}

/// Times `iters` calls of `op(node)` in bursts of [`ENQUEUE_BURST`], over
/// nodes made by `make` before each burst, with `drain()` untimed after
/// each burst.
pub fn time_in_bursts<N>(iters: u64, make: impl Fn() -> N, mut op: impl FnMut(N), mut drain: impl FnMut()) -> Duration {
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
pub fn time_over_nodes(iters: u64, mut op: impl FnMut(Box<Node>)) -> Duration {
    let nodes: Vec<Box<Node>> = (0..iters).map(|_| Node::new_boxed()).collect();
    let start = Instant::now();
    for node in nodes {
        op(node);
    }
    start.elapsed()
}

/// Times `iters` runs of `op()`.
#[inline]
pub fn time_each(iters: u64, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    start.elapsed()
}

/// Times `iters` calls in batches of [`FAST_PATH_BATCH`], each batch
/// preceded by an untimed `open()` (the call that opens a block) and
/// followed by an untimed `drain()`, so no timed call opens a block or
/// frees anything.
pub fn time_fast_path(
    iters: u64,
    op: impl FnMut(Box<Node>) + Copy,
    mut open: impl FnMut(),
    mut drain: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(FAST_PATH_BATCH);
        left -= n;
        open();
        total += time_over_nodes(n, op);
        drain();
    }
    total
}

/// Nodes retired per flood-loop call: `retire` for each, then `drain()`
/// when asked (the loop of `kvfree_flood` and of every `flood` kind).
#[inline]
pub fn flood_loop(n: u64, drain: bool, mut retire: impl FnMut(Box<Node>), drain_all: impl FnOnce()) {
    for _ in 0..n {
        retire(Node::new_boxed());
    }
    if drain {
        drain_all();
    }
}

/// A thread that runs `replace` every [`WRITER_PERIOD`] until stopped.
#[derive(Debug)]
pub struct PeriodicWriter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl PeriodicWriter {
    /// Starts the writer, pinned as thread 1 of `plan`.
    pub fn start(plan: &CpuPlan, mut replace: impl FnMut() + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
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

    /// Stops the writer and returns its update count; the caller must not
    /// hold up its grace period (a QSBR reader goes offline first).
    pub fn stop(mut self) -> u64 {
        // Relaxed: pairs with the writer's load; the join orders the rest.
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().expect("writer panicked"))
    }
}
