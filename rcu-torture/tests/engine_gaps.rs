//! Engine behaviour the torture test found at odds with the engine's own
//! documentation, each reproduced in a child process (the failure mode is
//! an abort). Ignored until the engine changes; run with
//! `cargo test -p rcu-torture --test engine_gaps -- --ignored`.
//!
//! # The kvfree reserve is lost to a drain (or rcu_barrier) steal
//!
//! `kvfree.rs` documents the emergency path as: a caller that may not block
//! takes its thread's reserve block, and the process aborts only when "the
//! reserve is in use and full too". But the reserve, once taken, is the
//! thread's open block, and the drain timer (or any thread's `rcu_barrier`)
//! steals and seals open blocks of idle threads. A sealed reserve waits for
//! a grace period, which cannot end while its owner is still inside the
//! read-side section it took the reserve in. So the owner's next
//! `kvfree_rcu` in that section, with block allocation still failing,
//! finds no open block and no reserve, and aborts, after the reserve
//! stored a single object. The torture test therefore hands the reserve
//! branch one object per stretch (`rcu-torture/src/emergency.rs`).

use std::process::Command;
use std::time::Duration;

/// Set in the child process.
const CHILD: &str = "RCU_TORTURE_ENGINE_GAP_CHILD";

/// Runs test `name` of this binary in a child process with `CHILD` set and
/// returns (exit status, stderr).
fn in_child(name: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads", "1"])
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
    // Longer than the default drain interval (20 ms): the reclaim thread
    // seals the reserve, which now holds one object of about 56.
    std::thread::sleep(Duration::from_millis(100));
    rcu_memb::kvfree_rcu(Box::new(2u64));
    set_alloc_failure(AllocFailure::None);
    drop(guard);
    rcu_memb::rcu_barrier();
}

#[test]
#[ignore = "engine gap (see the module docs): the second kvfree_rcu aborts the process; \
            run with --ignored"]
fn a_reserve_stolen_by_the_drain_timer_does_not_abort_the_next_kvfree_in_the_same_section() {
    if std::env::var_os(CHILD).is_some() {
        two_kvfrees_in_one_section_with_a_drain_in_between();
        return;
    }
    let (status, stderr) =
        in_child("a_reserve_stolen_by_the_drain_timer_does_not_abort_the_next_kvfree_in_the_same_section");
    assert!(status.success(), "the child must not abort after storing one object in its reserve ({status}):\n{stderr}");
}
