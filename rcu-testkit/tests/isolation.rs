//! `isolation`: a test run in a child process fails when the child fails,
//! and when the child ran no test at all. Each test here runs itself as
//! its own child and behaves differently there.

use rcu_testkit::isolation::{is_child_running, run_child, run_in_child, test_name};

const FAILING: &str = "a_failing_child_fails_its_test";

#[test]
fn a_failing_child_fails_its_test() {
    if is_child_running(FAILING) {
        panic!("deliberate failure of a child test");
    }
    let child = run_child(FAILING);
    assert!(child.ran_one_test, "{}", child.output);
    assert!(!child.passed(), "a failing child passed: {}", child.output);
    assert!(child.output.contains("deliberate failure of a child test"), "{}", child.output);

    // The test binary's crate name, then the test's path, as module_path!() gives it.
    let caught = std::panic::catch_unwind(|| run_in_child("isolation", FAILING, || unreachable!()));
    let message = caught.expect_err("run_in_child passed with a failing child");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("failed in its child process"), "{message}");
}

#[test]
fn a_passing_child_passes_its_test() {
    const NAME: &str = "a_passing_child_passes_its_test";
    if is_child_running(NAME) {
        return;
    }
    let child = run_child(NAME);
    assert!(child.passed(), "{}", child.output);
}

#[test]
fn a_child_that_runs_no_test_fails() {
    let child = run_child("no_test_has_this_name");
    assert!(child.status.success(), "the harness passes an empty run: {}", child.output);
    assert!(!child.passed(), "{}", child.output);
}

#[test]
fn names_are_the_module_path_without_the_crate() {
    assert_eq!(test_name("suites::kvfree", "a_test"), "kvfree::a_test");
    assert_eq!(test_name("suites", "a_test"), "a_test");
}
