//! One test in a process of its own: the test re-runs its own test binary
//! (`std::env::current_exe()`) with `<name> --exact --test-threads 1` and
//! an environment marker naming the test, and the child, seeing the
//! marker, runs the test's body. The test fails when the child fails, dies
//! of a signal, or did not run exactly that test.
//!
//! Why: the suites observe and change state that belongs to the process
//! (the [`suites`](crate::suites) module lists it); a test binary runs
//! its tests in threads of one process.

use std::process::Command;

/// The environment variable naming the test a child process is to run.
pub const CHILD_TEST_ENV: &str = "RCU_TESTKIT_CHILD_TEST";

/// The test harness's name of test function `name` in module `module` (as
/// `module_path!()` gives it: the crate, then the modules).
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// Runs `body` in a child process of this test binary, as test `name` of
/// module `module` (`module_path!()`); in that child, runs `body` itself.
///
/// # Panics
///
/// When the child did not pass the test: the message holds its output.
pub fn run_in_child(module: &str, name: &str, body: fn()) {
    let test = test_name(module, name);
    if is_child_running(&test) {
        body();
        return;
    }
    let child = run_child(&test);
    assert!(child.passed(), "{test} failed in its child process ({}):\n{}", child.status, child.output);
}

/// Whether this process is the child started to run test `test` (its full
/// harness name).
pub fn is_child_running(test: &str) -> bool {
    std::env::var_os(CHILD_TEST_ENV).is_some_and(|marked| marked == test)
}

/// What a child process running one test did.
#[derive(Debug)]
pub struct ChildRun {
    /// How the child ended.
    pub status: std::process::ExitStatus,
    /// Whether the harness ran exactly one test (a wrong name runs none).
    pub ran_one_test: bool,
    /// Its standard output, then its standard error.
    pub output: String,
}

impl ChildRun {
    /// Whether the child ran the test and it passed.
    pub fn passed(&self) -> bool {
        self.status.success() && self.ran_one_test
    }
}

/// Runs test `test` (its full harness name) alone in a child process of
/// this test binary, marked as that test's child.
///
/// # Panics
///
/// When the test binary cannot be found or started.
pub fn run_child(test: &str) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([test, "--exact", "--test-threads", "1"])
        .env(CHILD_TEST_ENV, test)
        .output()
        .expect("cannot start the test binary as a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    ChildRun {
        status: out.status,
        ran_one_test: stdout.contains("running 1 test"),
        output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    }
}
