//! The SVG chart of a `compare` run: one panel per figure, one bar per
//! implementation (medians over rounds).
//!
//! Panels: read-side section cost (one thread), read throughput with two
//! readers and one writer, the grace-period latency that writer saw (p99
//! as a pale bar behind the median, log scale: latencies differ by orders
//! of magnitude between flavours), flood throughput when the flood ran, and
//! the config-reload panels (reads per reader, reload latency, pool
//! lookups) when that part ran, and the async server's panels (requests/s,
//! request latency with and without reloads, table replace latency) when
//! `rcu-bench server` ran. Panels without figures are left out.

use super::{Metric, Results};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Bars for one panel: (row name, value, optional value drawn behind).
struct Panel<'r> {
    title: &'static str,
    y_desc: &'static str,
    bars: Vec<(&'r str, f64, Option<f64>)>,
    log_scale: bool,
}

fn panel(results: &Results, metric: Metric, behind: Option<Metric>, scale: f64) -> Vec<(&str, f64, Option<f64>)> {
    results
        .rows()
        .iter()
        .filter_map(|row| {
            let v = results.median(row, metric)? * scale;
            Some((row.as_str(), v, behind.and_then(|b| results.median(row, b)).map(|b| b * scale)))
        })
        .collect()
}

/// Writes the chart to `path`.
pub fn write_svg(results: &Results, path: &Path) -> Result<(), String> {
    let mut panels = vec![
        Panel {
            title: "read lock + dereference + unlock (1 thread)",
            y_desc: "ns per read (lower is better)",
            bars: panel(results, Metric::ReadPairNs, None, 1.0),
            log_scale: false,
        },
        Panel {
            title: "read throughput, 2 readers + 1 writer",
            y_desc: "M reads/s (higher is better)",
            bars: panel(results, Metric::ReadsPerSec, None, 1e-6),
            log_scale: false,
        },
        Panel {
            title: "grace-period latency seen by the writer (median; p99 pale)",
            y_desc: "microseconds, log scale (lower is better)",
            bars: panel(results, Metric::GpMedianNs, Some(Metric::GpP99Ns), 1e-3),
            log_scale: true,
        },
    ];
    let flood = panel(results, Metric::FloodObjectsPerSec, None, 1e-6);
    if !flood.is_empty() {
        panels.push(Panel {
            title: "flood: allocate + retire, loop and drain",
            y_desc: "M objects/s (higher is better)",
            bars: flood,
            log_scale: false,
        });
    }
    panels.extend([
        Panel {
            title: "config read, 1 reload/ms: reads per reader",
            y_desc: "M reads/s per reader, log scale (higher is better)",
            bars: panel(results, Metric::ConfigReadsPerSec, None, 1e-6),
            log_scale: true,
        },
        Panel {
            title: "config reload latency (median; p99 pale)",
            y_desc: "microseconds, log scale (lower is better)",
            bars: panel(results, Metric::ConfigReloadNs, Some(Metric::ConfigReloadP99Ns), 1e-3),
            log_scale: true,
        },
        Panel {
            title: "par_iter lookups on a rayon pool, table replaced every 1 ms",
            y_desc: "M lookups/s, whole pool (higher is better)",
            bars: panel(results, Metric::ParIterLookupsPerSec, None, 1e-6),
            log_scale: false,
        },
        Panel {
            title: "async server: requests/s, table replaced every reload period",
            y_desc: "k requests/s (higher is better)",
            bars: panel(results, Metric::ServerRequestsPerSec, None, 1e-3),
            log_scale: false,
        },
        Panel {
            title: "async server: table replace latency (median; p99 pale)",
            y_desc: "microseconds, log scale (lower is better)",
            bars: panel(results, Metric::ServerReloadNs, Some(Metric::ServerReloadP99Ns), 1e-3),
            log_scale: true,
        },
        Panel {
            title: "async server, reloads: request latency p99 (p99.9 pale)",
            y_desc: "microseconds, log scale (lower is better)",
            bars: panel(results, Metric::ServerP99Ns, Some(Metric::ServerP999Ns), 1e-3),
            log_scale: true,
        },
        Panel {
            title: "async server, no reloads: request latency p99 (p99.9 pale)",
            y_desc: "microseconds, log scale (lower is better)",
            bars: panel(results, Metric::ServerQuietP99Ns, Some(Metric::ServerQuietP999Ns), 1e-3),
            log_scale: true,
        },
    ]);
    panels.retain(|p| !p.bars.is_empty());
    let rows = panels.len().div_ceil(2).max(1);
    let root = SVGBackend::new(path, (1400, 500 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((rows, 2));
    for (p, area) in panels.iter().zip(areas.iter()) {
        draw_panel(p, area).map_err(|e| format!("drawing `{}`: {e}", p.title))?;
    }
    root.present().map_err(|e| format!("writing {}: {e}", path.display()))
}

fn draw_panel(p: &Panel<'_>, area: &Area<'_>) -> Result<(), Box<dyn std::error::Error>> {
    if p.bars.is_empty() {
        return Ok(());
    }
    // Horizontal bars: the names sit on the y axis, where long names
    // ("liburcu-qsbr-defer_rcu") read without rotation.
    let names: Vec<&str> = p.bars.iter().map(|b| b.0).collect();
    let last = p.bars.len() as u32 - 1;
    let max = p.bars.iter().map(|b| b.2.unwrap_or(0.0).max(b.1)).fold(0.0, f64::max);
    let y_label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i as usize).unwrap_or(&"").to_string(),
        SegmentValue::Last => String::new(),
    };
    let mut builder = ChartBuilder::on(area);
    builder.caption(p.title, ("sans-serif", 18)).margin(14).x_label_area_size(45).y_label_area_size(230);
    if p.log_scale {
        let min = p.bars.iter().map(|b| b.1).fold(f64::INFINITY, f64::min).max(1e-3);
        let floor = 10f64.powf((min / 2.0).log10().floor());
        let mut chart = builder.build_cartesian_2d((floor..max * 2.0).log_scale(), (0..last).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(names.len())
            .y_label_formatter(&y_label)
            .y_label_style(("sans-serif", 13))
            .x_desc(p.y_desc)
            .draw()?;
        let behind = p.bars.iter().enumerate().filter_map(|(i, b)| b.2.map(|v| (i as u32, v)));
        chart.draw_series(
            Histogram::horizontal(&chart).baseline(floor).margin(6).style(BLUE.mix(0.25).filled()).data(behind),
        )?;
        let front = p.bars.iter().enumerate().map(|(i, b)| (i as u32, b.1));
        chart.draw_series(Histogram::horizontal(&chart).baseline(floor).margin(16).style(BLUE.filled()).data(front))?;
    } else {
        let mut chart = builder.build_cartesian_2d(0.0..max * 1.15, (0..last).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(names.len())
            .y_label_formatter(&y_label)
            .y_label_style(("sans-serif", 13))
            .x_desc(p.y_desc)
            .draw()?;
        let bars = p.bars.iter().enumerate().map(|(i, b)| (i as u32, b.1));
        chart.draw_series(Histogram::horizontal(&chart).margin(10).style(BLUE.filled()).data(bars))?;
    }
    Ok(())
}
