//! The hang watchdog: a reader that never leaves its section stalls every
//! grace period; the torture binary must report the hang with the
//! flavour's grace-period state (which reader holds it up) and exit with
//! status 3 instead of hanging.

use std::process::Command;

fn assert_hang_is_reported(flavour: &str, stuck_state: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_rcu-torture"))
        .args(["--flavour", flavour, "--sabotage-hang", "--duration", "60", "--watchdog", "2", "--seed", "5"])
        .args(["--readers", "1", "--updaters", "1"])
        .output()
        .expect("the rcu-torture binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert_eq!(out.status.code(), Some(rcu_torture::HANG_EXIT_STATUS), "a hang must exit with status 3:\n{text}");
    assert!(text.contains(&format!("HANG [flavour={flavour} ")) && text.contains("seed=5]"), "{text}");
    assert!(text.contains(&format!("rcu_{flavour} state:")), "the report must include state_report():\n{text}");
    let stuck_slot = text.lines().find(|l| l.contains(stuck_state)).unwrap_or_else(|| {
        panic!("the report must show the reader holding the grace period up:\n{text}");
    });
    let tid = stuck_slot.split_whitespace().skip_while(|w| *w != "thread").nth(1).expect("the slot names its thread");
    assert!(
        text.contains(&format!("thread {tid} = stuck reader")),
        "the report must name the stuck reader's thread ({tid}):\n{text}"
    );
}

#[test]
fn a_memb_reader_that_never_leaves_is_reported_by_the_watchdog() {
    assert_hang_is_reported("memb", "ActiveOld");
}

#[test]
fn a_qsbr_reader_that_never_reports_a_quiescent_state_is_reported_by_the_watchdog() {
    assert_hang_is_reported("qsbr", "ActiveOld");
}
