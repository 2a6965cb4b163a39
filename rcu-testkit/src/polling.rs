//! Grace periods seen from outside, for every flavour: `synchronize_rcu`
//! waits for an older reader, polled grace periods, and sharing. The
//! reader holding a grace period up is [`reader::hold`](crate::reader::hold).

use rcu_core::{GpState, RcuFlavour};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A liveness bound, not a speed check: far beyond any grace period.
const LIVENESS: Duration = Duration::from_secs(30);

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + LIVENESS;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// A reader inside a read-side section on its own thread, and its release flag.
fn spawn_reader<F: RcuFlavour>() -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let reader = {
        let (entered, release) = (entered.clone(), release.clone());
        std::thread::spawn(move || crate::reader::hold::<F>(&entered, &release))
    };
    entered.wait();
    (reader, release)
}

/// `synchronize_rcu` returns only after a reader that was inside before
/// the call has left.
pub fn synchronize_waits_for_a_reader_that_started_before_it<F: RcuFlavour>() {
    let (reader, release) = spawn_reader::<F>();
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
    F::synchronize_rcu();
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
pub fn a_started_poll_completes_on_its_own<F: RcuFlavour>() {
    let cookie = F::start_poll_synchronize_rcu();
    wait_until("the polled grace period", || F::poll_state_synchronize_rcu(cookie));
}

/// A cookie is never reported complete while a reader that predates it is
/// still inside; once the reader leaves it completes.
pub fn a_cookie_does_not_complete_while_an_older_reader_is_inside<F: RcuFlavour>() {
    let (reader, release) = spawn_reader::<F>();
    let cookie = F::start_poll_synchronize_rcu();
    std::thread::sleep(Duration::from_millis(30));
    assert!(!F::poll_state_synchronize_rcu(cookie), "rcu_{}: completed under a reader that predates it", F::NAME);
    // SeqCst: a stop flag; the reader polls it.
    release.store(true, Ordering::SeqCst);
    wait_until("the polled grace period after the reader left", || F::poll_state_synchronize_rcu(cookie));
    F::cond_synchronize_rcu(cookie);
    reader.join().unwrap();
}

/// `get_state_synchronize_rcu` starts nothing, and a later `synchronize_rcu`
/// satisfies it.
pub fn get_state_is_satisfied_by_a_later_synchronize<F: RcuFlavour>() {
    let cookie = F::get_state_synchronize_rcu();
    F::synchronize_rcu();
    assert!(F::poll_state_synchronize_rcu(cookie));
    assert!(F::poll_state_synchronize_rcu(GpState::COMPLETED));
}

/// Sixteen concurrent `synchronize_rcu` callers behind one long reader run
/// a few grace periods, not sixteen. Run it in a process of its own (no
/// other test may add grace periods meanwhile).
pub fn concurrent_callers_share_grace_periods<F: RcuFlavour>() {
    const CALLERS: usize = 16;
    // The reader holds the first grace period up long enough for every
    // caller to queue behind it.
    let (reader, release) = spawn_reader::<F>();
    let before = F::stats();
    let start = Arc::new(Barrier::new(CALLERS + 1));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                F::synchronize_rcu();
            })
        })
        .collect();
    start.wait();
    // Every caller is queued once it has counted its call (the reader's
    // section keeps them off the no-reader fast path): release the reader
    // only then, however slowly a loaded machine schedules the callers.
    while F::stats().synchronize_calls - before.synchronize_calls < CALLERS as u64 {
        std::thread::sleep(Duration::from_millis(1));
    }
    // SeqCst: a stop flag; the reader polls it.
    release.store(true, Ordering::SeqCst);
    for c in callers {
        c.join().unwrap();
    }
    reader.join().unwrap();
    let after = F::stats();
    let gps = after.grace_periods - before.grace_periods;
    assert_eq!(after.synchronize_calls - before.synchronize_calls, CALLERS as u64);
    assert!(gps <= 3, "rcu_{}: {CALLERS} concurrent callers ran {gps} grace periods", F::NAME);
}
