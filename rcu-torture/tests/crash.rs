//! A run that dies of a signal still says which flavour, path and seed:
//! the sabotage path `sabotage:kvfree-out-of-memory` makes every kvfree
//! block allocation fail, the reserve included, inside a read-side section,
//! where the engine's documented answer is to abort.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

fn assert_abort_is_labelled(flavour: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_rcu-torture"))
        .args(["--flavour", flavour, "--sabotage", "--path", "sabotage:kvfree-out-of-memory"])
        .args(["--duration", "5", "--seed", "9", "--readers", "1", "--updaters", "0", "--flooders", "0"])
        .output()
        .expect("the rcu-torture binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "the engine must abort:\n{stderr}");
    assert!(
        stderr.contains(&format!("rcu_{flavour}: kvfree_rcu: memory allocation")),
        "the engine says why:\n{stderr}"
    );
    let line =
        format!("FAIL [flavour={flavour} path=sabotage:kvfree-out-of-memory seed=9] the process died of SIGABRT");
    assert!(stderr.contains(&line), "the torture binary must print `{line}`:\n{stderr}");
}

#[test]
fn a_memb_run_that_aborts_names_flavour_path_and_seed() {
    assert_abort_is_labelled("memb");
}

#[test]
fn a_qsbr_run_that_aborts_names_flavour_path_and_seed() {
    assert_abort_is_labelled("qsbr");
}
