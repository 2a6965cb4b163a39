//! The liburcu shim does what its bindings say (feature `liburcu`).
#![cfg(feature = "liburcu")]

use rcu_bench::liburcu::{LibMemb, LibQsbr, Urcu, UrcuHead, UrcuThread};
use rcu_bench::workload::{Node, Table, NODE_VALUE};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

#[test]
fn rust_mirror_of_rcu_head_has_the_c_size() {
    assert_eq!(std::mem::size_of::<UrcuHead>(), LibMemb::rcu_head_size());
    assert_eq!(std::mem::size_of::<UrcuHead>(), LibQsbr::rcu_head_size());
}

fn read_loop_reads_the_published_node<F: Urcu>() {
    let slot = AtomicPtr::new(Box::into_raw(Node::new_boxed()));
    let mut t = UrcuThread::<F>::register();
    assert_eq!(t.read_loop(10, &slot), 10 * NODE_VALUE);
    drop(t);
    // SAFETY: no reader is left; the node came from Box::into_raw.
    drop(unsafe { Box::from_raw(slot.load(Ordering::Relaxed)) });
}

#[test]
fn read_loop_reads_the_published_node_in_both_flavours() {
    read_loop_reads_the_published_node::<LibMemb>();
    read_loop_reads_the_published_node::<LibQsbr>();
}

#[test]
fn lookup_loop_finds_exactly_the_even_keys() {
    let slot = AtomicPtr::new(Box::into_raw(Table::new_boxed()));
    let mut t = UrcuThread::<LibQsbr>::register();
    let found = t.lookup_loop(Table::KEY_SPACE, &slot, Table::KEY_STRIDE, Table::KEY_SPACE);
    // The stride is coprime with the key space: every key once, half hit.
    assert_eq!(found, Table::KEY_SPACE / 2);
    drop(t);
    // SAFETY: no reader is left.
    drop(unsafe { Box::from_raw(slot.load(Ordering::Relaxed)) });
}

fn reader_run_counts_reads_until_stopped<F: Urcu>() {
    let slot = AtomicPtr::new(Box::into_raw(Node::new_boxed()));
    let stop = AtomicI32::new(0);
    let progress = AtomicU64::new(0);
    let (reads, mismatches) = std::thread::scope(|s| {
        let r = s.spawn(|| UrcuThread::<F>::register().reader_run(&slot, &stop, &progress, 0, NODE_VALUE));
        // A grace period needs the running reader's cooperation (QSBR:
        // its quiescent states every 1,024 reads).
        F::synchronize_rcu();
        while progress.load(Ordering::Relaxed) < 1024 {
            std::hint::spin_loop();
        }
        stop.store(1, Ordering::Relaxed);
        r.join().unwrap()
    });
    assert!(reads >= 1024, "{}: {reads} reads", F::NAME);
    assert_eq!(progress.load(Ordering::Relaxed), reads);
    assert_eq!(mismatches, 0);
    // SAFETY: the reader has exited.
    drop(unsafe { Box::from_raw(slot.load(Ordering::Relaxed)) });
}

#[test]
fn reader_run_counts_reads_until_stopped_in_both_flavours() {
    reader_run_counts_reads_until_stopped::<LibMemb>();
    reader_run_counts_reads_until_stopped::<LibQsbr>();
}

#[test]
#[should_panic(expected = "already holds an UrcuThread")]
fn second_registration_on_one_thread_panics() {
    let _a = UrcuThread::<LibMemb>::register();
    let _b = UrcuThread::<LibMemb>::register();
}
