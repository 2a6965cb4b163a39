//! A leaked guard (`mem::forget`) stalls its domain's grace period for
//! good: the stall warning names the domain and how many sections are
//! open. In a test binary of its own: it sets the process-wide warning
//! sink and threshold, and leaves one thread waiting forever.

use std::sync::Mutex;
use std::time::{Duration, Instant};

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(message: &str) {
    WARNINGS.lock().unwrap().push(message.to_owned());
}

static LEAKY: rcu_srcu::Domain = rcu_srcu::Domain::named("leaky");

#[test]
fn a_leaked_guard_is_reported_with_its_domain_and_open_sections() {
    rcu_core::stall::set_stall_sink(Some(record));
    rcu_srcu::set_stall_timeout(Some(Duration::from_millis(200)));
    std::thread::Builder::new()
        .name("leaker".into())
        .spawn(|| std::mem::forget(LEAKY.read_lock()))
        .unwrap()
        .join()
        .unwrap();
    // Waits forever; the process ends with the test binary.
    std::thread::spawn(|| LEAKY.synchronize_rcu());
    let start = Instant::now();
    while WARNINGS.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let warnings = WARNINGS.lock().unwrap().clone();
    let warning = warnings.first().expect("no stall warning for a leaked guard");
    for needle in ["srcu domain \"leaky\"", "for 1 section(s)", "leaked with mem::forget"] {
        assert!(warning.contains(needle), "the warning does not say {needle:?}: {warning}");
    }
    assert_eq!(LEAKY.stall_warnings(), 1);
}
