//! The asymmetric fence on this machine's hardware: a store-buffering
//! litmus test.
//!
//! ```text
//! reader                          writer
//! x = 1                           y = 1
//! compiler fence only             rcu_core::sys::heavy_barrier()
//! r1 = y                          r2 = x
//! forbidden: r1 == 0 && r2 == 0
//! ```
//!
//! With membarrier, the writer's heavy barrier runs a full barrier on every
//! CPU running one of our threads, which upgrades the reader's compiler
//! fence, so the forbidden outcome never appears. The control replaces the
//! heavy barrier with nothing (a compiler fence, so only the hardware can
//! reorder): on a machine with store buffers (every x86) the forbidden
//! outcome then does appear, which shows the test can see it. If the control
//! cannot show it here (too few simultaneous runs on a busy machine), the
//! test says so instead of pretending.
//!
//! Iterations are bounded (a few seconds at most); the two threads meet at
//! a spin barrier before each iteration so that their accesses overlap.

use rcu_core::sys::{self, BarrierStrategy};
use std::sync::atomic::{compiler_fence, AtomicU32, AtomicUsize, Ordering};

/// Iterations with the heavy barrier, all of which must be allowed outcomes.
const CHECKED_ITERATIONS: usize = 100_000;
/// The control stops after seeing this many forbidden outcomes...
const CONTROL_ENOUGH: u64 = 20;
/// ...or after this many iterations.
const CONTROL_MAX_ITERATIONS: usize = 400_000;
/// Spins before a waiting thread yields (the machine may be busy).
const SPINS_BEFORE_YIELD: u32 = 2_000;

/// One thread's arrival counter, on its own cache line.
#[repr(align(128))]
struct Arrival(AtomicUsize);

struct Litmus {
    x: Vec<AtomicU32>,
    y: Vec<AtomicU32>,
    r1: Vec<AtomicU32>,
    r2: Vec<AtomicU32>,
    reader_at: Arrival,
    writer_at: Arrival,
}

impl Litmus {
    fn new(n: usize) -> Self {
        let zeros = || (0..n).map(|_| AtomicU32::new(0)).collect();
        Litmus {
            x: zeros(),
            y: zeros(),
            r1: zeros(),
            r2: zeros(),
            reader_at: Arrival(AtomicUsize::new(0)),
            writer_at: Arrival(AtomicUsize::new(0)),
        }
    }

    /// Announces arrival at iteration `i` and waits for the other thread.
    fn meet(mine: &Arrival, other: &Arrival, i: usize) {
        // Release/Acquire: the other thread's earlier iterations are done
        // before this one starts (the spin barrier, not the litmus pair).
        mine.0.store(i + 1, Ordering::Release);
        let mut spins = 0u32;
        while other.0.load(Ordering::Acquire) < i + 1 {
            spins += 1;
            if spins == SPINS_BEFORE_YIELD {
                spins = 0;
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Runs `n` iterations; returns how many ended in the forbidden outcome.
    fn run(&self, n: usize, writer_barrier: fn()) -> u64 {
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..n {
                    Self::meet(&self.reader_at, &self.writer_at, i);
                    // Relaxed accesses: the litmus pair itself; the only
                    // ordering is the compiler fence (and what the writer's
                    // barrier forces on this CPU).
                    self.x[i].store(1, Ordering::Relaxed);
                    compiler_fence(Ordering::SeqCst);
                    self.r1[i].store(self.y[i].load(Ordering::Relaxed), Ordering::Relaxed);
                }
            });
            for i in 0..n {
                Self::meet(&self.writer_at, &self.reader_at, i);
                self.y[i].store(1, Ordering::Relaxed);
                writer_barrier();
                self.r2[i].store(self.x[i].load(Ordering::Relaxed), Ordering::Relaxed);
            }
        });
        // The scope joined the reader: its results are visible.
        (0..n).filter(|&i| self.r1[i].load(Ordering::Relaxed) == 0 && self.r2[i].load(Ordering::Relaxed) == 0).count()
            as u64
    }
}

fn no_barrier() {
    compiler_fence(Ordering::SeqCst);
}

/// The control: counts forbidden outcomes without the heavy barrier, in
/// batches, until enough are seen or the bound is reached.
fn control() -> (u64, usize) {
    let batch = 20_000;
    let (mut seen, mut ran) = (0, 0);
    while seen < CONTROL_ENOUGH && ran < CONTROL_MAX_ITERATIONS {
        seen += Litmus::new(batch).run(batch, no_barrier);
        ran += batch;
    }
    (seen, ran)
}

#[test]
fn the_heavy_barrier_forbids_store_buffering_against_a_compiler_fence_reader() {
    if sys::init() != BarrierStrategy::Membarrier {
        println!(
            "membarrier is not available (strategy {:?}): readers would use real fences, so the \
             asymmetric pair cannot be tested on this machine",
            sys::strategy()
        );
        return;
    }
    let (control_seen, control_ran) = control();
    if control_seen > 0 {
        println!(
            "control (no writer barrier): forbidden outcome in {control_seen} of {control_ran} iterations: the test can see it"
        );
    } else {
        println!(
            "control (no writer barrier): forbidden outcome never seen in {control_ran} iterations on this machine; \
             the check below cannot prove it would see a failure here"
        );
    }
    let forbidden = Litmus::new(CHECKED_ITERATIONS).run(CHECKED_ITERATIONS, sys::heavy_barrier);
    println!("heavy barrier (membarrier): forbidden outcome in {forbidden} of {CHECKED_ITERATIONS} iterations");
    assert_eq!(forbidden, 0, "store buffering seen with membarrier on the writer side: the asymmetric fence is broken");
}
