//! Reporting: the samples of a comparison ([`Results`], by row and
//! [`Metric`], grouped in the [`Section`]s of the workloads that produced
//! them) and their forms: the text tables ([`text`]), CSV ([`csv`]) and
//! the SVG chart ([`chart`]), and the verdicts of the goals ([`goals`]).
//! [`Workload`] is what `compare` runs: each workload adds its own rows.

pub mod chart;
pub mod csv;
pub mod goals;
pub mod text;

use rcu_testkit::stats::Summary;
use std::collections::BTreeMap;

pub use csv::format_csv;
pub use text::format_text;

/// A metric: its name, unit, and whether larger is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// ns per read-side section with dereference, one thread.
    ReadPairNs,
    /// Reads per second, 2 readers + 1 writer.
    ReadsPerSec,
    /// Writes per second, 2 readers + 1 writer.
    WritesPerSec,
    /// Median grace-period latency seen by the writer, ns.
    GpMedianNs,
    /// 99th-percentile grace-period latency seen by the writer, ns.
    GpP99Ns,
    /// Flood objects per second (loop plus drain).
    FloodObjectsPerSec,
    /// Flood peak RSS, KiB.
    FloodPeakRssKib,
    /// Config reads per second per reader, while reloaded every 1 ms.
    ConfigReadsPerSec,
    /// Median latency of a deferred reload (`replace`, `store`, ...), ns.
    ConfigReloadNs,
    /// 99th-percentile latency of a deferred reload, ns.
    ConfigReloadP99Ns,
    /// Median latency of a reload that waits for a grace period, ns.
    ConfigReloadGpNs,
    /// Lookups per second on the rayon pool (whole pool).
    ParIterLookupsPerSec,
    /// `synchronize_rcu` calls per second, 4 writers, no reader registered.
    SyncNoReaderCallsPerSec,
    /// `synchronize_rcu` calls per second, 4 writers, 1 busy reader.
    SyncBusyCallsPerSec,
    /// Grace periods run per call, 4 writers, 1 busy reader.
    SyncBusyGpsPerCall,
    /// Reads per second, 1 reader + 1 writer.
    Reads1r1w,
    /// Writes per second, 1 reader + 1 writer.
    Writes1r1w,
    /// Async server: requests per second, table reloaded.
    ServerRequestsPerSec,
    /// Async server: median request latency, table reloaded, ns.
    ServerP50Ns,
    /// Async server: 99th-percentile request latency, table reloaded, ns.
    ServerP99Ns,
    /// Async server: 99.9th-percentile request latency, table reloaded, ns.
    ServerP999Ns,
    /// Async server: median latency of one table replacement, ns.
    ServerReloadNs,
    /// Async server: 99th-percentile latency of one table replacement, ns.
    ServerReloadP99Ns,
    /// Async server: 99th-percentile CPU time of one table replacement, ns
    /// (its wall-clock latency without time preempted or suspended).
    ServerReloadCpuP99Ns,
    /// Async server: requests per second, no reloads.
    ServerQuietRequestsPerSec,
    /// Async server: median request latency, no reloads, ns.
    ServerQuietP50Ns,
    /// Async server: 99th-percentile request latency, no reloads, ns.
    ServerQuietP99Ns,
    /// Async server: 99.9th-percentile request latency, no reloads, ns.
    ServerQuietP999Ns,
}

impl Metric {
    /// Every metric, in declaration order.
    pub const ALL: &'static [Metric] = &[
        Metric::ReadPairNs,
        Metric::ReadsPerSec,
        Metric::WritesPerSec,
        Metric::GpMedianNs,
        Metric::GpP99Ns,
        Metric::FloodObjectsPerSec,
        Metric::FloodPeakRssKib,
        Metric::ConfigReadsPerSec,
        Metric::ConfigReloadNs,
        Metric::ConfigReloadP99Ns,
        Metric::ConfigReloadGpNs,
        Metric::ParIterLookupsPerSec,
        Metric::SyncNoReaderCallsPerSec,
        Metric::SyncBusyCallsPerSec,
        Metric::SyncBusyGpsPerCall,
        Metric::Reads1r1w,
        Metric::Writes1r1w,
        Metric::ServerRequestsPerSec,
        Metric::ServerP50Ns,
        Metric::ServerP99Ns,
        Metric::ServerP999Ns,
        Metric::ServerReloadNs,
        Metric::ServerReloadP99Ns,
        Metric::ServerReloadCpuP99Ns,
        Metric::ServerQuietRequestsPerSec,
        Metric::ServerQuietP50Ns,
        Metric::ServerQuietP99Ns,
        Metric::ServerQuietP999Ns,
    ];

    /// Column name (also used in the CSV).
    pub fn name(self) -> &'static str {
        match self {
            Metric::ReadPairNs => "read_pair_ns",
            Metric::ReadsPerSec => "reads_per_sec_2r1w",
            Metric::WritesPerSec => "writes_per_sec_2r1w",
            Metric::GpMedianNs => "gp_median_ns",
            Metric::GpP99Ns => "gp_p99_ns",
            Metric::FloodObjectsPerSec => "flood_objects_per_sec",
            Metric::FloodPeakRssKib => "flood_peak_rss_kib",
            Metric::ConfigReadsPerSec => "reads_per_sec_per_reader",
            Metric::ConfigReloadNs => "reload_ns",
            Metric::ConfigReloadP99Ns => "reload_p99_ns",
            Metric::ConfigReloadGpNs => "reload_gp_ns",
            Metric::ParIterLookupsPerSec => "lookups_per_sec",
            Metric::SyncNoReaderCallsPerSec => "sync_calls_per_sec_no_reader",
            Metric::SyncBusyCallsPerSec => "sync_calls_per_sec_1_reader",
            Metric::SyncBusyGpsPerCall => "gps_per_call_1_reader",
            Metric::Reads1r1w => "reads_per_sec_1r1w",
            Metric::Writes1r1w => "writes_per_sec_1r1w",
            Metric::ServerRequestsPerSec => "requests_per_sec",
            Metric::ServerP50Ns => "p50_ns",
            Metric::ServerP99Ns => "p99_ns",
            Metric::ServerP999Ns => "p999_ns",
            Metric::ServerReloadNs => "server_reload_ns",
            Metric::ServerReloadP99Ns => "server_reload_p99_ns",
            Metric::ServerReloadCpuP99Ns => "server_reload_cpu_p99_ns",
            Metric::ServerQuietRequestsPerSec => "requests_per_sec_quiet",
            Metric::ServerQuietP50Ns => "p50_ns_quiet",
            Metric::ServerQuietP99Ns => "p99_ns_quiet",
            Metric::ServerQuietP999Ns => "p999_ns_quiet",
        }
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::ReadsPerSec
                | Metric::WritesPerSec
                | Metric::FloodObjectsPerSec
                | Metric::ConfigReadsPerSec
                | Metric::ParIterLookupsPerSec
                | Metric::SyncNoReaderCallsPerSec
                | Metric::SyncBusyCallsPerSec
                | Metric::Reads1r1w
                | Metric::Writes1r1w
                | Metric::ServerRequestsPerSec
                | Metric::ServerQuietRequestsPerSec
        )
    }
}

/// A workload's part of the report: a title and the metrics of its rows.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    /// The heading of its tables.
    pub title: &'static str,
    /// Its metrics, in column order.
    pub metrics: &'static [Metric],
}

/// The position of a round in a comparison: workloads alternate their
/// order on odd rounds.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// This round, from 0.
    pub index: usize,
    /// Rounds in all.
    pub of: usize,
}

impl Round {
    /// `items` in this round's order (reversed on odd rounds), so slow
    /// drift of the machine spreads over all of them.
    pub fn order<T>(self, mut items: Vec<T>) -> Vec<T> {
        if self.index % 2 == 1 {
            items.reverse();
        }
        items
    }

    /// "round i/n", for progress lines.
    pub fn label(self) -> String {
        format!("round {}/{}", self.index + 1, self.of)
    }
}

/// A part of `compare`: runs one round of its measurements, adding rows
/// to the results.
pub trait Workload {
    /// Its section of the report.
    fn section(&self) -> Section;
    /// A note printed under the tables, if it needs one.
    fn note(&self) -> Option<String> {
        None
    }
    /// One round; `progress` gets a line per measurement.
    fn round(&self, round: Round, results: &mut Results, progress: &mut dyn FnMut(&str)) -> Result<(), String>;
}

/// Every sample, by (row name, metric): one per round.
#[derive(Clone, Debug, Default)]
pub struct Results {
    samples: BTreeMap<(String, Metric), Vec<f64>>,
    /// Row names in first-seen order.
    rows: Vec<String>,
    /// The sections of the workloads that ran, in order.
    pub sections: Vec<Section>,
    /// Notes printed under the table (e.g. what the epoch writer does).
    pub notes: Vec<String>,
}

impl Results {
    /// Records one sample of `row`'s `metric`.
    pub fn add(&mut self, row: &str, metric: Metric, value: f64) {
        if !self.rows.iter().any(|r| r == row) {
            self.rows.push(row.to_string());
        }
        self.samples.entry((row.to_string(), metric)).or_default().push(value);
    }

    /// Row names in order.
    pub fn rows(&self) -> &[String] {
        &self.rows
    }

    /// Median, min, max and count of a row's metric.
    pub fn stats(&self, row: &str, metric: Metric) -> Option<Summary> {
        Summary::of(self.samples.get(&(row.to_string(), metric))?)
    }

    /// Median of a row's metric.
    pub fn median(&self, row: &str, metric: Metric) -> Option<f64> {
        self.stats(row, metric).map(|s| s.median)
    }
}
