//! Failures seen by any thread of a run: counted, the first few kept and
//! printed, each naming the flavour, the path at fault and the seed.

use crate::label::RunLabel;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How many failure messages are kept (all are counted).
const KEPT_FAILURES: usize = 32;

/// Failures seen by any thread.
#[derive(Debug)]
pub struct Failures {
    label: RunLabel,
    count: AtomicU64,
    messages: Mutex<Vec<String>>,
    /// Every path some failure named (all failures, not only those kept).
    paths: Mutex<BTreeSet<String>>,
}

impl Failures {
    /// No failures yet, in the run `label` names.
    pub fn new(label: RunLabel) -> Self {
        Failures { label, count: AtomicU64::new(0), messages: Mutex::default(), paths: Mutex::default() }
    }

    /// Records a failure of `path`: `FAIL [flavour=… path=… seed=…] what`.
    pub fn fail(&self, path: &str, what: impl std::fmt::Display) {
        let RunLabel { flavour, seed } = self.label;
        self.record(path, format!("FAIL [flavour={flavour} path={path} seed={seed}] {what}"));
    }

    fn record(&self, path: &str, message: String) {
        // Relaxed: read after the threads are joined.
        self.count.fetch_add(1, Ordering::Relaxed);
        self.paths.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_owned());
        let mut m = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < KEPT_FAILURES {
            eprintln!("{message}");
            m.push(message);
        }
    }

    /// Failures so far.
    pub fn count(&self) -> u64 {
        // Relaxed: as in `record`.
        self.count.load(Ordering::Relaxed)
    }

    /// The first failure messages.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every path a failure named.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

/// The message of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(non-string panic payload)".to_owned())
}
