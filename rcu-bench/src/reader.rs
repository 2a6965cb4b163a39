//! The harness reader: the node readers share with writers, and liburcu
//! `test_urcu`'s reader loop written once over [`ReadSide`] (section,
//! dereference, check, optional busy loop, count, and a quiescent state
//! every 1,024 reads: QSBR needs them or grace periods never end; the other
//! flavours ignore them). liburcu's loop is the same in the C shim.

use crate::workload::{Node, NODE_VALUE};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

/// A read-side critical section of a Rust implementation.
pub trait ReadSide {
    /// Runs `f` inside one read-side critical section.
    fn section<R>(&mut self, f: impl FnOnce() -> R) -> R;
    /// A point where the thread holds no reference: QSBR announces a
    /// quiescent state; the others do nothing.
    #[inline]
    fn quiescent_state(&mut self) {}
}

/// What a reader thread shares with the rest of a run.
#[derive(Debug)]
pub struct ReaderShared {
    /// The published node.
    pub slot: AtomicPtr<Node>,
    /// Nonzero: readers leave their loops.
    pub stop: AtomicI32,
}

impl ReaderShared {
    /// Publishes a fresh node.
    pub fn new() -> Self {
        ReaderShared { slot: AtomicPtr::new(Box::into_raw(Node::new_boxed())), stop: AtomicI32::new(0) }
    }
}

impl Default for ReaderShared {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ReaderShared {
    fn drop(&mut self) {
        // SAFETY: dropping the shared state means no reader thread holds it
        // (they hold an Arc or a scoped borrow); the node came from
        // Box::into_raw and is still published, so nothing else frees it.
        drop(unsafe { Box::from_raw(*self.slot.get_mut()) });
    }
}

/// Busy-loop `loops` iterations (`caa_cpu_relax()` in liburcu's tests).
#[inline]
pub fn spin(loops: u64) {
    for _ in 0..loops {
        std::hint::spin_loop();
    }
}

/// liburcu `test_urcu`'s reader loop for a Rust implementation, until
/// `shared.stop`. Publishes its read count after every read (a plain store
/// to its own cache line, as test_urcu's per-thread counter increment), so
/// the run can discard a warm-up period. Returns (reads, mismatches: nodes
/// seen not holding [`NODE_VALUE`]).
pub fn reader_loop<R: ReadSide>(
    reader: &mut R,
    shared: &ReaderShared,
    progress: &AtomicU64,
    read_cs_len: u64,
) -> (u64, u64) {
    let mut reads: u64 = 0;
    let mut mismatches: u64 = 0;
    loop {
        reader.section(|| {
            // Acquire pairs with the writer's AcqRel swap that published the
            // node (rcu_dereference; a plain load on x86).
            let node = shared.slot.load(Ordering::Acquire);
            // SAFETY: the node was published and is retired only through a
            // grace period (or epoch deferral) that waits for this section.
            if unsafe { (*node).value } != NODE_VALUE {
                mismatches += 1;
            }
            if read_cs_len != 0 {
                spin(read_cs_len);
            }
        });
        reads += 1;
        // Relaxed: a statistic for the sampler, no data depends on it.
        progress.store(reads, Ordering::Relaxed);
        if reads & 1023 == 0 {
            reader.quiescent_state();
        }
        // Relaxed, as test_urcu's test_duration_read(): the flag carries no
        // data; the join after it orders everything else.
        if shared.stop.load(Ordering::Relaxed) != 0 {
            break;
        }
    }
    (reads, mismatches)
}
