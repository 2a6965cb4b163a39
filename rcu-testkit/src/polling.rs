//! Grace periods seen from outside, for both flavours: `synchronize_rcu`
//! waits for an older reader, polled grace periods, and sharing.
//!
//! Each scenario takes the flavour and `hold(entered, release)`: enter a
//! read-side section (memb: a guard; QSBR: an online registered thread),
//! wait at `entered`, stay inside until `release` is set, then leave. The
//! flavour's test file supplies only that.

use rcu_core::{Flavour, GpState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// How a flavour's thread stays inside a read-side section (see the module docs).
pub type Hold = fn(&Barrier, &AtomicBool);

/// A liveness bound, not a speed check: far beyond any grace period.
const LIVENESS: Duration = Duration::from_secs(30);

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + LIVENESS;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// A reader inside `hold` on its own thread, and its release flag.
fn spawn_reader(hold: Hold) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let reader = {
        let (entered, release) = (entered.clone(), release.clone());
        std::thread::spawn(move || hold(&entered, &release))
    };
    entered.wait();
    (reader, release)
}

/// `synchronize_rcu` returns only after a reader that was inside before
/// the call has left.
pub fn synchronize_waits_for_a_reader_that_started_before_it<F: Flavour>(hold: Hold) {
    let (reader, release) = spawn_reader(hold);
    let left = Arc::new(AtomicBool::new(false));
    let releaser = {
        let (left, release) = (left.clone(), release.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SeqCst: `left` is set before the reader may leave; the
            // grace period's return orders the reader's exit before the
            // load below.
            left.store(true, Ordering::SeqCst);
            release.store(true, Ordering::SeqCst);
        })
    };
    F::engine().synchronize();
    assert!(
        left.load(Ordering::SeqCst),
        "rcu_{}: synchronize_rcu returned while a pre-existing reader was inside",
        F::NAME
    );
    releaser.join().unwrap();
    reader.join().unwrap();
}

/// A started poll completes without anyone calling `synchronize_rcu`: the
/// reclaim thread drives it.
pub fn a_started_poll_completes_on_its_own<F: Flavour>() {
    let cookie = F::engine().start_poll();
    wait_until("the polled grace period", || F::engine().poll(cookie));
}

/// A cookie is never reported complete while a reader that predates it is
/// still inside; once the reader leaves it completes.
pub fn a_cookie_does_not_complete_while_an_older_reader_is_inside<F: Flavour>(hold: Hold) {
    let (reader, release) = spawn_reader(hold);
    let cookie = F::engine().start_poll();
    std::thread::sleep(Duration::from_millis(30));
    assert!(!F::engine().poll(cookie), "rcu_{}: completed under a reader that predates it", F::NAME);
    // SeqCst: a stop flag; the reader polls it.
    release.store(true, Ordering::SeqCst);
    wait_until("the polled grace period after the reader left", || F::engine().poll(cookie));
    F::engine().cond_synchronize(cookie);
    reader.join().unwrap();
}

/// `get_state_synchronize_rcu` starts nothing, and a later `synchronize_rcu`
/// satisfies it.
pub fn get_state_is_satisfied_by_a_later_synchronize<F: Flavour>() {
    let cookie = F::engine().sequence().snapshot();
    F::engine().synchronize();
    assert!(F::engine().poll(cookie));
    assert!(F::engine().poll(GpState::COMPLETED));
}

/// Sixteen concurrent `synchronize_rcu` callers behind one long reader run
/// a few grace periods, not sixteen. Run it in a process of its own (no
/// other test may add grace periods meanwhile).
pub fn concurrent_callers_share_grace_periods<F: Flavour>(hold: Hold) {
    const CALLERS: usize = 16;
    // The reader holds the first grace period up long enough for every
    // caller to queue behind it.
    let (reader, release) = spawn_reader(hold);
    let before = F::engine().stats();
    let start = Arc::new(Barrier::new(CALLERS + 1));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                F::engine().synchronize();
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(Duration::from_millis(100));
    // SeqCst: a stop flag; the reader polls it.
    release.store(true, Ordering::SeqCst);
    for c in callers {
        c.join().unwrap();
    }
    reader.join().unwrap();
    let after = F::engine().stats();
    let gps = after.grace_periods - before.grace_periods;
    assert_eq!(after.synchronize_calls - before.synchronize_calls, CALLERS as u64);
    assert!(gps <= 3, "rcu_{}: {CALLERS} concurrent callers ran {gps} grace periods", F::NAME);
}

/// The grace-period and polling scenarios: `polling_tests!(Flavour, hold)`.
#[macro_export]
macro_rules! polling_tests {
    ($f:ty, $hold:expr) => {
        #[test]
        fn synchronize_waits_for_a_reader_that_started_before_it() {
            $crate::polling::synchronize_waits_for_a_reader_that_started_before_it::<$f>($hold);
        }

        #[test]
        fn a_started_poll_completes_on_its_own() {
            $crate::polling::a_started_poll_completes_on_its_own::<$f>();
        }

        #[test]
        fn a_cookie_does_not_complete_while_an_older_reader_is_inside() {
            $crate::polling::a_cookie_does_not_complete_while_an_older_reader_is_inside::<$f>($hold);
        }

        #[test]
        fn get_state_is_satisfied_by_a_later_synchronize() {
            $crate::polling::get_state_is_satisfied_by_a_later_synchronize::<$f>();
        }
    };
}

/// The sharing scenario, for a test file of its own: `sharing_tests!(Flavour, hold)`.
#[macro_export]
macro_rules! sharing_tests {
    ($f:ty, $hold:expr) => {
        #[test]
        fn concurrent_callers_share_grace_periods() {
            $crate::polling::concurrent_callers_share_grace_periods::<$f>($hold);
        }
    };
}
