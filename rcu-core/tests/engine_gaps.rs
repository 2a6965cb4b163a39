//! Two engine cases that end in an abort or a hang when they go wrong,
//! each run in a child process.
//!
//! # A kvfree reserve taken by a drain (or rcu_barrier) before its owner
//! may block
//!
//! A `kvfree_rcu` caller that may not block and finds no block takes its
//! thread's reserve block, which becomes its open block. The drain timer
//! (or any thread's `rcu_barrier`) seals open blocks of idle threads; a
//! sealed reserve waits for a grace period, which cannot end while its
//! owner is still inside the read-side section it took the reserve in. So
//! the drain timer must leave a reserve in use in place, and the owner
//! hands it back once it may block again; otherwise the owner's next
//! `kvfree_rcu` in that section, with block allocation still failing, finds
//! no open block and no reserve and aborts after the reserve stored a
//! single object. An `rcu_barrier` from another thread still collects a
//! reserve in use; if allocation keeps failing, the owner's next kvfree in
//! the same section then aborts (documented in
//! `rcu-core/src/kvfree/mod.rs`), which is why the torture test hands the
//! reserve branch one object per stretch (`rcu-torture/src/emergency.rs`).
//!
//! # A fork during the engine's one-time set-up
//!
//! `Engine::init` runs once per flavour: it decides the barrier strategy
//! (registering for membarrier, which the kernel answers after a grace
//! period of its own) and installs the `pthread_atfork` handlers. A fork
//! while another thread is inside it must leave a child whose first RCU
//! call completes: the set-up uses fork-safe locks that the fork handlers,
//! registered first, take; a `std::sync::Once` caught "running" by the
//! fork would make the child wait forever. The outcome depends on timing,
//! so the test forks after several delays. `tests/fork.rs` avoids the case
//! by using both flavours before its first fork.

use std::process::Command;
use std::time::Duration;

/// Set in the child process.
const CHILD: &str = "RCU_CORE_ENGINE_GAP_CHILD";

/// Runs test `name` of this binary in a child process with `CHILD` set and
/// returns (exit status, stderr).
fn in_child(name: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Two `kvfree_rcu` calls inside one read-side section while block
/// allocation fails, with the default drain interval elapsing in between.
fn two_kvfrees_in_one_section_with_a_drain_in_between() {
    use rcu_core::fault::{set_alloc_failure, AllocFailure};
    let guard = rcu_memb::read_lock();
    set_alloc_failure(AllocFailure::Blocks);
    rcu_memb::kvfree_rcu(Box::new(1u64));
    assert_eq!(rcu_memb::stats().kvfree_emergency_reserve, 1, "the first call takes the reserve");
    // Longer than the default drain interval: the reclaim thread would
    // seal the reserve, which holds one object so far.
    std::thread::sleep(Duration::from_millis(100));
    rcu_memb::kvfree_rcu(Box::new(2u64));
    set_alloc_failure(AllocFailure::None);
    drop(guard);
    rcu_memb::rcu_barrier();
}

#[test]
fn a_reserve_stolen_by_the_drain_timer_does_not_abort_the_next_kvfree_in_the_same_section() {
    if std::env::var_os(CHILD).is_some() {
        two_kvfrees_in_one_section_with_a_drain_in_between();
        return;
    }
    let (status, stderr) =
        in_child("a_reserve_stolen_by_the_drain_timer_does_not_abort_the_next_kvfree_in_the_same_section");
    assert!(status.success(), "the child must not abort after storing one object in its reserve ({status}):\n{stderr}");
}

/// In a child process: one thread makes the first memb call (the engine's
/// set-up) while this one forks after `delay`; the grandchild makes a memb
/// call of its own under an alarm. Exits 0 if the grandchild exited
/// normally.
fn fork_while_another_thread_initialises(delay: Duration) -> ! {
    let first_use = std::thread::spawn(rcu_memb::synchronize_rcu);
    std::thread::sleep(delay);
    // SAFETY: the grandchild only calls alarm (async-signal-safe) before
    // the RCU call under test, and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: async-signal-safe; SIGALRM kills a hung grandchild.
        unsafe { libc::alarm(5) };
        rcu_memb::synchronize_rcu();
        // SAFETY: ends the forked process without running the parent's
        // exit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let _ = first_use.join();
    let hung = libc::WIFSIGNALED(status);
    eprintln!("grandchild after {delay:?}: {}", if hung { "hung (SIGALRM)" } else { "ok" });
    std::process::exit(i32::from(hung));
}

#[test]
fn a_fork_while_another_thread_sets_up_the_engine_leaves_a_usable_child() {
    if let Some(us) = std::env::var_os(CHILD) {
        let us: u64 = us.to_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        fork_while_another_thread_initialises(Duration::from_micros(us));
    }
    let mut hung = Vec::new();
    for us in [0u64, 200, 1_000, 3_000, 10_000, 30_000] {
        let out = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "a_fork_while_another_thread_sets_up_the_engine_leaves_a_usable_child"])
            .args(["--nocapture", "--test-threads", "1"])
            .env(CHILD, us.to_string())
            .output()
            .expect("the test binary runs");
        if !out.status.success() {
            hung.push(format!("{us} µs"));
        }
    }
    assert!(
        hung.is_empty(),
        "a child forked this long after another thread's first RCU call hung in its own first call: {}",
        hung.join(", ")
    );
}
