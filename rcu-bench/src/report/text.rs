//! The text report: per section, medians with [min .. max], then ratios to
//! each baseline present.

use super::{Metric, Results, Section};
use rcu_testkit::stats::Summary;

fn fmt_value(metric: Metric, v: f64) -> String {
    match metric {
        Metric::ReadPairNs => format!("{v:.2} ns"),
        Metric::ServerRequestsPerSec | Metric::ServerQuietRequestsPerSec => format!("{:.0} /s", v),
        Metric::ReadsPerSec
        | Metric::WritesPerSec
        | Metric::FloodObjectsPerSec
        | Metric::ConfigReadsPerSec
        | Metric::ParIterLookupsPerSec
        | Metric::SyncNoReaderCallsPerSec
        | Metric::SyncBusyCallsPerSec
        | Metric::Reads1r1w
        | Metric::Writes1r1w => {
            format!("{:.3} M/s", v / 1e6)
        }
        Metric::SyncBusyGpsPerCall => format!("{v:.3}"),
        Metric::GpMedianNs
        | Metric::GpP99Ns
        | Metric::ConfigReloadNs
        | Metric::ConfigReloadP99Ns
        | Metric::ConfigReloadGpNs
        | Metric::ServerP50Ns
        | Metric::ServerP99Ns
        | Metric::ServerP999Ns
        | Metric::ServerReloadNs
        | Metric::ServerReloadP99Ns
        | Metric::ServerReloadCpuP99Ns
        | Metric::ServerQuietP50Ns
        | Metric::ServerQuietP99Ns
        | Metric::ServerQuietP999Ns => fmt_ns(v.round() as u64),
        Metric::FloodPeakRssKib => format!("{:.1} MiB", v / 1024.0),
    }
}

/// The text report: medians with (min..max), then ratios to each baseline.
pub fn format_text(results: &Results, baselines: &[String]) -> String {
    let mut out = String::new();
    for &Section { title, metrics } in &results.sections {
        let rows: Vec<&String> =
            results.rows().iter().filter(|r| metrics.iter().any(|&m| results.stats(r, m).is_some())).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!("\n== {title}: median over rounds [min .. max]\n"));
        for row in &rows {
            out.push_str(&format!("{row}\n"));
            for &m in metrics {
                if let Some(Summary { median: med, min, max, n }) = results.stats(row, m) {
                    out.push_str(&format!(
                        "    {:<24} {:>14}   [{} .. {}] n={n}\n",
                        m.name(),
                        fmt_value(m, med),
                        fmt_value(m, min),
                        fmt_value(m, max)
                    ));
                }
            }
        }
        for base in baselines.iter().filter(|b| rows.iter().any(|r| r == b)) {
            out.push_str(&format!("\n-- {title}: ratios to {base} (value / {base}; '+' marks the better side)\n"));
            out.push_str(&format!("{:<32}", ""));
            for &m in metrics {
                out.push_str(&format!(" {:>22}", m.name()));
            }
            out.push('\n');
            for row in &rows {
                out.push_str(&format!("{row:<32}"));
                for &m in metrics {
                    let cell = match (results.median(row, m), results.median(base, m)) {
                        (Some(a), Some(b)) if b != 0.0 => {
                            let ratio = a / b;
                            let better = if m.higher_is_better() { ratio > 1.0 } else { ratio < 1.0 };
                            format!("{ratio:.3}{}", if better { "+" } else { " " })
                        }
                        _ => "-".into(),
                    };
                    out.push_str(&format!(" {cell:>22}"));
                }
                out.push('\n');
            }
        }
    }
    out.push_str(&super::goals::format_goals(results));
    for note in &results.notes {
        out.push_str(&format!("\nnote: {note}\n"));
    }
    out
}

/// Formats nanoseconds with a readable unit.
pub fn fmt_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.2} us", ns as f64 / 1e3),
        _ => format!("{:.3} ms", ns as f64 / 1e6),
    }
}
