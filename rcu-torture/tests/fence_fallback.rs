//! The binary's `--deny-membarrier`: with membarrier(2) refused by a
//! seccomp filter installed before any thread exists, every flavour runs
//! the whole torture on the fence fallback and passes (`--expect-barrier`
//! fails the run unless the flavour reports fences). The engine's side of
//! the fallback is tested in `rcu-core/tests/membarrier_refused.rs`.

use std::process::Command;

#[test]
fn the_torture_passes_on_the_fence_fallback_when_membarrier_is_denied() {
    let out = Command::new(env!("CARGO_BIN_EXE_rcu-torture"))
        .args(["--deny-membarrier", "eperm", "--expect-barrier", "fences"])
        .args(["--duration", "1", "--readers", "2", "--updaters", "1", "--seed", "17"])
        .env_remove("RCU_FORCE_FENCES")
        .output()
        .expect("the rcu-torture binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("membarrier(2) denied by seccomp"), "the filter was not installed:\n{text}");
    assert!(out.status.success(), "torture under a membarrier filter failed:\n{text}");
    for flavour in ["memb", "qsbr"] {
        assert!(text.contains(&format!("flavour {flavour}, seed 17, ")), "{flavour} did not run:\n{text}");
    }
    assert!(!text.contains("barrier strategy Membarrier"), "{text}");
}
