//! Stall warnings, for every flavour: a reader that holds a grace period
//! up past the threshold is named in the warning; one that finishes within
//! it is not. Each scenario sets the process-wide threshold and warning
//! sink, so they run in a process of their own, one after the other.

use rcu_core::stall::set_stall_sink;
use rcu_core::{set_stall_timeout, RcuFlavour};
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

const READER_NAME: &str = "stall-reader";

/// Starts a named reader that holds a section until released; returns its
/// kernel thread id and handle.
fn spawn_holder<F: RcuFlavour>(release: &Arc<AtomicBool>) -> (u64, std::thread::JoinHandle<()>) {
    let entered = Arc::new(Barrier::new(2));
    let tid = Arc::new(AtomicU64::new(0));
    let handle = {
        let (entered, release, tid) = (entered.clone(), release.clone(), tid.clone());
        std::thread::Builder::new()
            .name(READER_NAME.into())
            .spawn(move || {
                // Relaxed: published to the spawner by the barrier below.
                tid.store(rcu_core::sys::gettid(), Ordering::Relaxed);
                crate::reader::hold::<F>(&entered, &release);
            })
            .unwrap()
    };
    entered.wait();
    (tid.load(Ordering::Relaxed), handle)
}

/// How a stall warning describes a reader holding a grace period up: one
/// that must announce quiescent states is online without having announced
/// one; any other is inside a read-side section.
fn stalled_state<F: RcuFlavour>() -> &'static str {
    if F::NEEDS_QUIESCENT_STATES {
        "online without a quiescent state"
    } else {
        "inside a read-side section"
    }
}

/// A reader stalls a grace period past a 0.2 s threshold: the warning names
/// the thread, its tid, the flavour and the reader's state, and `stats()`
/// counts one stall. Without stall warnings, the reader is released after
/// 10 s and the test fails.
pub fn a_stalled_reader_is_named<F: RcuFlavour>() {
    set_stall_sink(Some(record));
    set_stall_timeout(Some(Duration::from_millis(200)));
    let before = F::stats().stalls;
    let release = Arc::new(AtomicBool::new(false));
    let (tid, reader) = spawn_holder::<F>(&release);
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
    F::synchronize_rcu();
    releaser.join().unwrap();
    reader.join().unwrap();
    set_stall_sink(None);
    let warnings = warnings();
    let warning = warnings.first().expect("no stall warning for a reader that held a grace period up for 10 s");
    for needle in [READER_NAME, &format!("tid {tid}"), F::NAME, stalled_state::<F>()] {
        assert!(warning.contains(needle), "the warning does not name {needle:?}: {warning}");
    }
    assert_eq!(F::stats().stalls, before + 1, "one stall, counted once: {warnings:?}");
}

/// A reader that leaves its section well within the threshold is never
/// reported.
pub fn a_reader_within_the_threshold_is_not_reported<F: RcuFlavour>() {
    set_stall_sink(Some(record));
    set_stall_timeout(Some(Duration::from_secs(30)));
    let before = (F::stats().stalls, warnings().len());
    let release = Arc::new(AtomicBool::new(false));
    let (_, reader) = spawn_holder::<F>(&release);
    let releaser = {
        let release = release.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // Relaxed: as above.
            release.store(true, Ordering::Relaxed);
        })
    };
    F::synchronize_rcu();
    releaser.join().unwrap();
    reader.join().unwrap();
    set_stall_sink(None);
    assert_eq!((F::stats().stalls, warnings().len()), before, "a 100 ms reader was reported: {:?}", warnings());
}
