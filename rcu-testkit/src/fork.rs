//! `fork()` while callbacks are pending: the child can use the whole API,
//! and the callbacks pending at fork time run in both processes.

use rcu_core::RcuFlavour;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

static RAN: AtomicU64 = AtomicU64::new(0);

/// Forks while a reader holds the grace period up and `pending` callbacks
/// wait for it. The child checks, then `_exit`s with a status: its pending
/// callbacks and a new one run after `rcu_barrier`, `synchronize_rcu`
/// completes (the reader thread does not exist there), polling works. The
/// parent checks the status and that its own callbacks ran exactly once.
/// Another parent thread waits in `rcu_barrier` across the fork: the child
/// must drop that thread's stack marker and still account correctly.
pub fn child_runs_pending_and_new_callbacks<F: RcuFlavour>() {
    const PENDING: u64 = 100;
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let reader = {
        let (entered, release) = (entered.clone(), release.clone());
        std::thread::spawn(move || crate::reader::hold::<F>(&entered, &release))
    };
    entered.wait();
    for _ in 0..PENDING {
        F::call_rcu(|| {
            RAN.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert_eq!(RAN.load(Ordering::SeqCst), 0, "callbacks ran while a pre-existing reader was inside");
    // A thread waits in rcu_barrier across the fork: its marker is queued
    // on its stack, and that thread does not exist in the child.
    let barrier_waiter = std::thread::spawn(|| F::rcu_barrier());
    while F::stats().barriers == 0 {
        std::thread::yield_now();
    }
    // SAFETY: fork has no memory-safety preconditions; the child only runs
    // the checks below and leaves with _exit (no unwinding into the test
    // harness, no destructors of the parent's threads' state).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(child_checks::<F>).unwrap_or(false);
        // SAFETY: _exit ends the child without running atexit handlers that
        // belong to the parent's test harness.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "rcu_{}: the forked child failed (status {status:#x})",
        F::NAME
    );
    release.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    barrier_waiter.join().unwrap();
    F::rcu_barrier();
    assert_eq!(RAN.load(Ordering::SeqCst), PENDING, "the parent's callbacks ran a wrong number of times");
}

fn child_checks<F: RcuFlavour>() -> bool {
    F::synchronize_rcu();
    let cookie = F::start_poll_synchronize_rcu();
    F::cond_synchronize_rcu(cookie);
    F::call_rcu(|| {
        RAN.fetch_add(1000, Ordering::SeqCst);
    });
    F::rcu_barrier();
    let ran = RAN.load(Ordering::SeqCst);
    if ran != 1100 {
        eprintln!("rcu_{} child: expected 100 pending + 1 new callback to run, counter is {ran}", F::NAME);
        return false;
    }
    let backlog = F::stats().callback_backlog;
    if backlog != 0 {
        eprintln!("rcu_{} child: backlog {backlog} after rcu_barrier (counters not reconciled)", F::NAME);
        return false;
    }
    F::poll_state_synchronize_rcu(cookie)
}

/// A thread holds enqueue counts it has not flushed to the shared counter
/// (fewer than a flush batch) when the process forks: the child's
/// callback counters do not go backwards from the parent's (the child must
/// keep the counts it inherits, not rebuild them from its own threads).
pub fn child_keeps_callback_counts_with_unflushed_residuals<F: RcuFlavour>() {
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        for _ in 0..5 {
            F::call_rcu(|| {});
        }
        done_tx.send(()).unwrap();
        go_rx.recv().unwrap();
    });
    done_rx.recv().unwrap();
    F::rcu_barrier();
    let before = F::stats();
    assert!(before.callbacks_invoked >= 5, "rcu_{}: the barrier ran the holder's callbacks: {before:?}", F::NAME);
    // SAFETY: the child only reads counters and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let after = F::stats();
        let ok =
            after.callbacks_invoked >= before.callbacks_invoked && after.callbacks_queued >= after.callbacks_invoked;
        // SAFETY: _exit is async-signal-safe; the child runs nothing else.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    go_tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "rcu_{}: the child's callback counters went backwards from the parent's ({} queued, {} invoked)",
        F::NAME,
        before.callbacks_queued,
        before.callbacks_invoked
    );
}

static FLOOD_DROPPED: AtomicU64 = AtomicU64::new(0);

/// A flood object whose drop takes a little while, so that forks land in
/// the middle of a producer's free of its handed-back blocks.
struct SlowDrop;

impl Drop for SlowDrop {
    fn drop(&mut self) {
        for _ in 0..50 {
            std::hint::spin_loop();
        }
        // Relaxed: read after rcu_barrier (or in the child after its own).
        FLOOD_DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Forks again and again while another thread floods kvfree_rcu, which
/// frees its own ready blocks (issue 30): some forks land while that
/// thread drops a handed-back block. Each child (where the producer does
/// not exist) retires objects of its own, passes rcu_barrier (it must not
/// wait for the vanished thread's free), finds its own objects dropped and
/// the kvfree counters reconciled (freed = queued). The parent's objects
/// are each dropped once.
pub fn child_forked_during_producer_side_frees<F: RcuFlavour>() {
    const FORKS: usize = 12;
    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let producer = {
        let (stop, produced) = (stop.clone(), produced.clone());
        std::thread::spawn(move || {
            // Relaxed: a flag polled in a loop; the join orders the rest.
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..1_000 {
                    F::kvfree_rcu(Box::new(SlowDrop));
                }
                // Relaxed: read after the join.
                produced.fetch_add(1_000, Ordering::Relaxed);
            }
        })
    };
    // Relaxed: a statistic, polled.
    while F::stats().kvfree_objects_freed_by_owner == 0 {
        std::thread::yield_now();
    }
    for _ in 0..FORKS {
        // SAFETY: the child only runs `child_after_fork` and leaves with
        // _exit (no unwinding into the harness, no parent destructors).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let ok = std::panic::catch_unwind(child_after_fork::<F>).unwrap_or(false);
            // SAFETY: _exit ends the child without the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid out-pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "rcu_{}: a child forked during producer-side frees failed (status {status:#x})",
            F::NAME
        );
    }
    // Relaxed: a flag; the join orders what the producer did.
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    F::rcu_barrier();
    // Relaxed: after rcu_barrier (every drop before it) and the join.
    assert_eq!(
        FLOOD_DROPPED.load(Ordering::Relaxed),
        produced.load(Ordering::Relaxed),
        "rcu_{}: the parent's flood objects were not each dropped once",
        F::NAME
    );
}

fn child_after_fork<F: RcuFlavour>() -> bool {
    // Relaxed: the child's own drops are ordered by its rcu_barrier below.
    let before = FLOOD_DROPPED.load(Ordering::Relaxed);
    for _ in 0..3_000 {
        F::kvfree_rcu(Box::new(SlowDrop));
    }
    F::rcu_barrier();
    // Relaxed: after the child's rcu_barrier.
    let dropped = FLOOD_DROPPED.load(Ordering::Relaxed) - before;
    let s = F::stats();
    if dropped < 3_000 || s.kvfree_objects_freed != s.kvfree_objects_queued {
        eprintln!(
            "rcu_{} child: {dropped} of its 3000 objects dropped; kvfree freed {} of {} queued",
            F::NAME,
            s.kvfree_objects_freed,
            s.kvfree_objects_queued
        );
        return false;
    }
    true
}
