//! A forked child uses a domain whose worker ran in the parent and one of
//! whose sections another parent thread held at the fork: the domain's
//! `pthread_atfork` handlers forget that section and restart the worker.
//! The child reports through its exit status; an `alarm` turns a hang
//! into a SIGALRM death.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

static DOMAIN: rcu_srcu::Domain = rcu_srcu::Domain::named("fork test");

/// Seconds before a hung child is killed.
const CHILD_ALARM_SECS: u32 = 20;

/// Set by a callback queued in the child.
static RAN: AtomicBool = AtomicBool::new(false);

/// The child's steps; returns the exit status (0: all passed).
fn child() -> i32 {
    // Another thread's section is open in the copied memory: this waits
    // for it unless the fork handler forgot it.
    DOMAIN.synchronize_rcu();
    // Relaxed: the barrier below orders the callback's store before the
    // load (the callback runs before the barrier's marker).
    DOMAIN.call_rcu(|| RAN.store(true, Ordering::Relaxed));
    // Needs a worker: the parent's was not copied.
    DOMAIN.rcu_barrier();
    if !RAN.load(Ordering::Relaxed) {
        return 2;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(DOMAIN.synchronize_rcu_async());
    drop(DOMAIN.read_lock());
    DOMAIN.synchronize_rcu();
    0
}

#[test]
fn a_forked_child_uses_a_domain() {
    // The parent's worker runs before the fork.
    DOMAIN.call_rcu(|| {});
    DOMAIN.rcu_barrier();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let guard = DOMAIN.read_lock();
        entered_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        drop(guard);
    });
    entered_rx.recv().unwrap();
    // SAFETY: the child runs only `child` (this crate's code, tokio's
    // runtime on the child's one thread) and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: sets this process's alarm; no memory involved.
        unsafe { libc::alarm(CHILD_ALARM_SECS) };
        let code = std::panic::catch_unwind(child).unwrap_or(3);
        // SAFETY: leaves the child without running the harness's exit
        // path (whose locks other parent threads may have held).
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status:#x} (signal {} is SIGALRM: it hung)",
        libc::SIGALRM
    );
    DOMAIN.synchronize_rcu();
}
