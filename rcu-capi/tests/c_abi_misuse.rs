//! Misuse through the C ABI, judged by what liburcu's release builds do on
//! the same call: aborts with a message naming the call and the fix where
//! liburcu deadlocks or fails an assertion; liburcu's behaviour (and a
//! message, once) where liburcu runs on; every lenient case aborts under
//! `RCU_CAPI_STRICT=1`. Each case reruns this test binary as a child that
//! commits it.

use rcu_capi::*;

extern "C" {
    fn urcu_memb_read_lock();
    fn urcu_memb_read_unlock();
    fn urcu_mb_read_lock();
    fn urcu_bp_read_lock();
    fn urcu_bp_read_unlock();
    fn urcu_qsbr_read_lock();
}

const CASE_ENV: &str = "RCU_CAPI_MISUSE_CASE";

fn commit(case: &str) {
    match case {
        "synchronize_in_memb_section" => {
            // SAFETY: a lazily registered section; the misuse follows.
            unsafe { urcu_memb_read_lock() };
            urcu_memb_synchronize_rcu();
        }
        "synchronize_in_mb_section" => {
            // SAFETY: as above.
            unsafe { urcu_mb_read_lock() };
            urcu_mb_synchronize_rcu();
        }
        "synchronize_in_bp_section" => {
            // SAFETY: bp registers on first use.
            unsafe { urcu_bp_read_lock() };
            urcu_bp_synchronize_rcu();
        }
        "unregistered_memb_reader" => {
            // SAFETY: registers lazily, or aborts under RCU_CAPI_STRICT.
            unsafe { urcu_memb_read_lock() };
            // SAFETY: the section taken above.
            unsafe { urcu_memb_read_unlock() };
        }
        "unregistered_qsbr_reader" => {
            // SAFETY: as above.
            unsafe { urcu_qsbr_read_lock() };
        }
        "double_registration" => {
            urcu_qsbr_register_thread();
            urcu_qsbr_register_thread();
        }
        "unregister_unregistered" => urcu_memb_unregister_thread(),
        "barrier_in_section" => {
            urcu_memb_register_thread();
            // SAFETY: registered.
            unsafe { urcu_memb_read_lock() };
            urcu_memb_barrier();
            urcu_memb_barrier();
            // SAFETY: the section taken above.
            unsafe { urcu_memb_read_unlock() };
            urcu_memb_unregister_thread();
        }
        "unregister_in_section" => {
            urcu_memb_register_thread();
            // SAFETY: registered.
            unsafe { urcu_memb_read_lock() };
            urcu_memb_unregister_thread();
            // SAFETY: the section taken above (liburcu lets it end).
            unsafe { urcu_memb_read_unlock() };
            urcu_memb_synchronize_rcu();
        }
        "bp_unregister" => {
            // liburcu-bp's unregister is an empty inline: inside a section,
            // twice, or never registered, it does nothing.
            urcu_bp_unregister_thread();
            // SAFETY: bp registers on first use.
            unsafe { urcu_bp_read_lock() };
            urcu_bp_unregister_thread();
            // SAFETY: the section taken above.
            unsafe { urcu_bp_read_unlock() };
            urcu_bp_unregister_thread();
            urcu_bp_synchronize_rcu();
        }
        other => panic!("unknown misuse case {other}"),
    }
}

struct Child {
    success: bool,
    stderr: String,
}

fn run(case: &str, strict: bool) -> Child {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", "misuse_is_judged_by_what_liburcu_does", "--nocapture"]).env(CASE_ENV, case);
    if strict {
        command.env(misuse::STRICT_ENV, "1");
    } else {
        command.env_remove(misuse::STRICT_ENV);
    }
    let out = command.output().unwrap();
    Child { success: out.status.success(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn assert_aborts(case: &str, strict: bool, message: &str) {
    let child = run(case, strict);
    assert!(!child.success, "{case} (strict: {strict}): the child did not abort");
    assert!(child.stderr.contains(message), "{case}: stderr lacks {message:?}:\n{}", child.stderr);
}

#[test]
fn misuse_is_judged_by_what_liburcu_does() {
    if let Ok(case) = std::env::var(CASE_ENV) {
        commit(&case);
        return;
    }
    // liburcu deadlocks: abort, strict or not.
    for fl in ["memb", "mb", "bp"] {
        let message = format!("urcu_{fl}_synchronize_rcu() called inside a read-side critical section");
        assert_aborts(&format!("synchronize_in_{fl}_section"), false, &message);
    }
    // liburcu's assertions fail: abort, strict or not.
    assert_aborts(
        "double_registration",
        false,
        "urcu_qsbr_register_thread() called by a thread that is registered already",
    );
    assert_aborts(
        "unregister_unregistered",
        false,
        "urcu_memb_unregister_thread() called by a thread that is not registered",
    );
    // liburcu runs on: so does this (with one message where liburcu has
    // one too); RCU_CAPI_STRICT=1 aborts.
    for case in ["unregistered_memb_reader", "unregistered_qsbr_reader", "bp_unregister"] {
        let child = run(case, false);
        assert!(child.success && child.stderr.is_empty(), "{case}: {}", child.stderr);
    }
    assert_aborts("unregistered_memb_reader", true, "urcu_memb_read_lock() called by a thread that is not registered");
    assert_aborts("unregistered_qsbr_reader", true, "urcu_qsbr_read_lock() called by a thread that is not registered");
    let barrier = "urcu_memb_barrier() called from within an RCU read-side critical section";
    let child = run("barrier_in_section", false);
    assert!(child.success, "barrier_in_section: {}", child.stderr);
    assert_eq!(child.stderr.matches(barrier).count(), 1, "one message, as liburcu:\n{}", child.stderr);
    assert_aborts("barrier_in_section", true, barrier);
    let unregister = "urcu_memb_unregister_thread() called inside a read-side critical section";
    let child = run("unregister_in_section", false);
    assert!(child.success && child.stderr.contains(unregister), "unregister_in_section: {}", child.stderr);
    assert_aborts("unregister_in_section", true, unregister);
}
