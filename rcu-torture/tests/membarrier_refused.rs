//! With membarrier(2) refused by a seccomp filter, the engine takes the
//! fence fallback (its stats say so) and the torture checks still pass.
//!
//! Each case runs the `rcu-torture` binary as a child process with
//! `--deny-membarrier`, which installs the filter at the top of `main`,
//! before any thread exists, and checks that the filter bites before
//! running; `--expect-barrier` makes the run fail unless
//! `stats().barrier_strategy` reports the strategy named.

use std::process::{Command, Output};

fn torture(args: &[&str]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rcu-torture"))
        .args(["--duration", "1", "--readers", "2", "--updaters", "1", "--seed", "17"])
        .args(args)
        .env_remove("RCU_FORCE_FENCES")
        .output()
        .expect("the rcu-torture binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    (out, text)
}

fn assert_fence_fallback_passes(errno: &str) {
    let (out, text) = torture(&["--deny-membarrier", errno, "--expect-barrier", "fences"]);
    assert!(text.contains("membarrier(2) denied by seccomp"), "the filter was not installed:\n{text}");
    assert!(out.status.success(), "torture under a membarrier filter failed:\n{text}");
    for flavour in ["memb", "qsbr"] {
        assert!(
            text.contains(&format!("flavour {flavour}, seed 17, ")) && text.contains("barrier strategy Fences"),
            "{flavour} must report the fence fallback:\n{text}"
        );
    }
    assert!(!text.contains("barrier strategy Membarrier"), "{text}");
}

#[test]
fn membarrier_denied_with_eperm_takes_the_fence_fallback_and_the_torture_passes() {
    assert_fence_fallback_passes("eperm");
}

#[test]
fn membarrier_denied_with_enosys_takes_the_fence_fallback_and_the_torture_passes() {
    assert_fence_fallback_passes("enosys");
}

/// The control: without the filter, on a kernel with membarrier, the same
/// run uses membarrier, so the filter is what changes the strategy.
#[test]
fn without_the_filter_the_same_run_uses_membarrier_where_the_kernel_has_it() {
    const PRIVATE_EXPEDITED_AND_REGISTER: i64 = (1 << 3) | (1 << 4);
    match rcu_torture::seccomp::query_membarrier() {
        Ok(mask) if mask & PRIVATE_EXPEDITED_AND_REGISTER == PRIVATE_EXPEDITED_AND_REGISTER => {
            let (out, text) = torture(&["--expect-barrier", "membarrier"]);
            assert!(out.status.success(), "{text}");
        }
        other => println!("membarrier is not available here ({other:?}): the control run cannot show the difference"),
    }
}
