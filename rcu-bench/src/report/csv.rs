//! The CSV report: `name,metric,median,min,max,rounds`, one line per row
//! and metric, sections in order.

use super::Results;
use rcu_testkit::stats::Summary;

/// The CSV report: one line per (row, metric): median, min, max, rounds.
pub fn format_csv(results: &Results) -> String {
    let mut out = String::from("name,metric,median,min,max,rounds\n");
    for row in results.rows() {
        for &m in results.sections.iter().flat_map(|s| s.metrics) {
            if let Some(Summary { median: med, min, max, n }) = results.stats(row, m) {
                out.push_str(&format!("{row},{},{med},{min},{max},{n}\n", m.name()));
            }
        }
    }
    out
}
