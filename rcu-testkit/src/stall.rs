//! Stall warnings, for both flavours: a reader that holds a grace period
//! up past the threshold is named in the warning; one that finishes within
//! it is not. Each scenario sets the process-wide threshold and warning
//! sink, so a flavour runs them in a test binary of their own.

use rcu_core::stall::set_stall_sink;
use rcu_core::{set_stall_timeout, Stats};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(message: &str) {
    WARNINGS.lock().unwrap().push(message.to_owned());
}

fn warnings() -> Vec<String> {
    WARNINGS.lock().unwrap().clone()
}

/// How a flavour's reader holds a grace period up: `hold` enters a section
/// (memb: a guard; QSBR: an online thread with no quiescent state), waits on
/// `entered`, then stays until `release` is set.
pub type Hold = fn(entered: &Barrier, release: &AtomicBool);

const READER_NAME: &str = "stall-reader";

/// Starts a named reader that holds a section until released; returns its
/// kernel thread id and handle.
fn spawn_holder(hold: Hold, release: &Arc<AtomicBool>) -> (u64, std::thread::JoinHandle<()>) {
    let entered = Arc::new(Barrier::new(2));
    let tid = Arc::new(AtomicU64::new(0));
    let handle = {
        let (entered, release, tid) = (entered.clone(), release.clone(), tid.clone());
        std::thread::Builder::new()
            .name(READER_NAME.into())
            .spawn(move || {
                // Relaxed: published to the spawner by the barrier below.
                tid.store(rcu_core::sys::gettid(), Ordering::Relaxed);
                hold(&entered, &release);
            })
            .unwrap()
    };
    entered.wait();
    (tid.load(Ordering::Relaxed), handle)
}

/// A reader stalls a grace period past a 0.2 s threshold: the warning names
/// the thread, its tid, the flavour and the reader's state, and `stats()`
/// counts one stall. Without stall warnings, the reader is released after
/// 10 s and the test fails.
pub fn a_stalled_reader_is_named(flavour: &str, state: &str, hold: Hold, synchronize: fn(), stats: fn() -> Stats) {
    set_stall_sink(Some(record));
    set_stall_timeout(Some(Duration::from_millis(200)));
    let before = stats().stalls;
    let release = Arc::new(AtomicBool::new(false));
    let (tid, reader) = spawn_holder(hold, &release);
    let releaser = {
        let release = release.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while warnings().is_empty() && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            // Relaxed: the reader polls it; nothing else is published.
            release.store(true, Ordering::Relaxed);
        })
    };
    synchronize();
    releaser.join().unwrap();
    reader.join().unwrap();
    set_stall_sink(None);
    let warnings = warnings();
    let warning = warnings.first().expect("no stall warning for a reader that held a grace period up for 10 s");
    for needle in [READER_NAME, &format!("tid {tid}"), flavour, state] {
        assert!(warning.contains(needle), "the warning does not name {needle:?}: {warning}");
    }
    assert_eq!(stats().stalls, before + 1, "one stall, counted once: {warnings:?}");
}

/// A reader that leaves its section well within the threshold is never
/// reported.
pub fn a_reader_within_the_threshold_is_not_reported(hold: Hold, synchronize: fn(), stats: fn() -> Stats) {
    set_stall_sink(Some(record));
    set_stall_timeout(Some(Duration::from_secs(30)));
    let before = (stats().stalls, warnings().len());
    let release = Arc::new(AtomicBool::new(false));
    let (_, reader) = spawn_holder(hold, &release);
    let releaser = {
        let release = release.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // Relaxed: as above.
            release.store(true, Ordering::Relaxed);
        })
    };
    synchronize();
    releaser.join().unwrap();
    reader.join().unwrap();
    set_stall_sink(None);
    assert_eq!((stats().stalls, warnings().len()), before, "a 100 ms reader was reported: {:?}", warnings());
}

/// Both scenarios, in order (they share the process-wide sink).
#[macro_export]
macro_rules! stall_tests {
    ($flavour:literal, $state:literal, $hold:expr, $synchronize:expr, $stats:expr) => {
        #[test]
        fn stall_warnings() {
            $crate::stall::a_reader_within_the_threshold_is_not_reported($hold, $synchronize, $stats);
            $crate::stall::a_stalled_reader_is_named($flavour, $state, $hold, $synchronize, $stats);
        }
    };
}
