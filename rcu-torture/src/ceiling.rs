//! The memory ceiling: resident set size (`rcu_testkit::rss`) sampled
//! against a bound.
//!
//! A run measures its baseline RSS before starting threads; the ceiling is
//! the baseline plus a headroom (`--rss-headroom-mib`). The flood thread
//! samples while it floods and the watchdog samples on every tick; the
//! first sample above the ceiling fails the run (backpressure did not bound
//! the backlog), and the peak is reported either way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The resident set size of this process in bytes, or `None` where
/// `/proc/self/status` cannot be read.
fn rss_bytes() -> Option<u64> {
    rcu_testkit::rss::rss_kib().map(|kib| kib * 1024)
}

/// The ceiling and what the samples found.
#[derive(Debug)]
pub struct RssWatch {
    /// RSS before the run's threads started (0 if unreadable).
    pub baseline: u64,
    /// Samples above this fail the run (`u64::MAX`: no ceiling).
    pub ceiling: u64,
    peak: AtomicU64,
    samples: AtomicU64,
    exceeded: AtomicBool,
}

/// One sample above the ceiling (reported once per run).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Exceeded {
    /// The sample.
    pub rss: u64,
}

impl RssWatch {
    /// A watch with `headroom` bytes above the RSS now.
    pub fn starting_now(headroom: u64) -> Self {
        let baseline = rss_bytes().unwrap_or(0);
        RssWatch {
            baseline,
            ceiling: baseline.saturating_add(headroom),
            peak: AtomicU64::new(baseline),
            samples: AtomicU64::new(0),
            exceeded: AtomicBool::new(false),
        }
    }

    /// Samples the RSS; `Some` the first time a sample is above the ceiling.
    pub fn sample(&self) -> Option<Exceeded> {
        let rss = rss_bytes()?;
        // Relaxed: statistics and a once-flag; read after the threads join.
        self.samples.fetch_add(1, Ordering::Relaxed);
        self.peak.fetch_max(rss, Ordering::Relaxed);
        if rss > self.ceiling && !self.exceeded.swap(true, Ordering::Relaxed) {
            return Some(Exceeded { rss });
        }
        None
    }

    /// Whether a sample has been above the ceiling.
    pub fn exceeded(&self) -> bool {
        // Relaxed: a once-flag polled by the flood.
        self.exceeded.load(Ordering::Relaxed)
    }

    /// The largest sample.
    pub fn peak(&self) -> u64 {
        // Relaxed: read after the threads join.
        self.peak.load(Ordering::Relaxed)
    }

    /// Samples taken.
    pub fn samples(&self) -> u64 {
        // Relaxed: as in `peak`.
        self.samples.load(Ordering::Relaxed)
    }
}

/// Bytes as MiB, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sample_above_the_ceiling_is_reported_once() {
        let watch = RssWatch { ceiling: 0, ..RssWatch::starting_now(0) };
        assert!(watch.sample().is_some());
        assert!(watch.sample().is_none(), "reported once");
        assert!(watch.peak() > 0 && watch.samples() == 2);
    }
}
