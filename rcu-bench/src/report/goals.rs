//! The goals the figures are held to: the table in BENCHMARKS.md ("The
//! goals, as ratios of `compare` medians"), read at build time, so the
//! table there is the only copy, and each goal this run has figures for is
//! printed with its measured ratio and verdict.

use super::{Metric, Results};

/// BENCHMARKS.md, whose goals section is parsed.
const BENCHMARKS_MD: &str = include_str!("../../../BENCHMARKS.md");
/// The heading of the goals section.
const HEADING: &str = "## The goals, as ratios of `compare` medians";

/// One row of the goals table: `numerator / denominator` of `metric`,
/// at most (costs) or at least (rates) `target`.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// The metric both rows are read for.
    pub metric: Metric,
    /// The row whose figure is divided.
    pub numerator: String,
    /// The row it is divided by.
    pub denominator: String,
    /// Whether the ratio must be at most `target` (else at least).
    pub at_most: bool,
    /// The bound on the ratio.
    pub target: f64,
}

/// The goals table of BENCHMARKS.md.
///
/// # Panics
///
/// When the section or one of its rows cannot be read (a test checks it).
pub fn goals() -> Vec<Goal> {
    let start = BENCHMARKS_MD.find(HEADING).expect("BENCHMARKS.md has the goals section");
    let section = &BENCHMARKS_MD[start + HEADING.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| parse_row(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `| `metric` | numerator | denominator | at most 1.0 |`.
fn parse_row(line: &str) -> Result<Goal, String> {
    let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
    let [metric, numerator, denominator, goal] = cells[..] else {
        return Err("a goals row has four cells".into());
    };
    let metric = metric.trim_matches('`');
    let metric = Metric::ALL.iter().copied().find(|m| m.name() == metric).ok_or("unknown metric")?;
    let (at_most, target) = if let Some(t) = goal.strip_prefix("at most ") {
        (true, t)
    } else {
        (false, goal.strip_prefix("at least ").ok_or("the goal is `at most X` or `at least X`")?)
    };
    let target = target.parse().map_err(|_| "the goal's bound is a number")?;
    Ok(Goal { metric, numerator: numerator.into(), denominator: denominator.into(), at_most, target })
}

/// The goals this run has figures for, with the measured ratio and verdict.
pub fn format_goals(results: &Results) -> String {
    let mut out = String::new();
    for g in goals() {
        let (Some(a), Some(b)) = (results.median(&g.numerator, g.metric), results.median(&g.denominator, g.metric))
        else {
            continue;
        };
        if out.is_empty() {
            out.push_str(
                "\n== goals (ratios of medians from this run; one run on a shared machine is evidence, not proof)\n",
            );
        }
        let ratio = a / b;
        let met = if g.at_most { ratio <= g.target } else { ratio >= g.target };
        out.push_str(&format!(
            "{:<60} {:>8.3}  goal {} {:<5} {}\n",
            format!("{} {} / {}", g.metric.name(), g.numerator, g.denominator),
            ratio,
            if g.at_most { "<=" } else { ">=" },
            g.target,
            if met { "met" } else { "MISSED" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_in_benchmarks_md_parses() {
        let goals = goals();
        assert!(goals.len() >= 20, "{} goals", goals.len());
        let first = &goals[0];
        assert_eq!((first.metric, first.numerator.as_str(), first.at_most), (Metric::ReadPairNs, "rcu-memb", true));
    }

    #[test]
    fn rows_that_do_not_parse_are_named() {
        assert!(parse_row("| `no_such_metric` | a | b | at most 1.0 |").is_err());
        assert!(parse_row("| `read_pair_ns` | a | b | about 1.0 |").is_err());
        assert!(parse_row("| `read_pair_ns` | a | b |").is_err());
        let g = parse_row("| `reload_ns` | a | b | at least 2.5 |").unwrap();
        assert_eq!((g.metric, g.at_most, g.target), (Metric::ConfigReloadNs, false, 2.5));
    }
}
