//! The terminal summary of a sweep: one aligned table and a few latency histograms, and the
//! table cells the exports share.

use super::stats::render_histogram;
use super::Report;
use crate::color::{paint, FAIL, NOTE, OK};
use crate::engine::Strategy;
use crate::types::Micros;
use std::fmt::Write;

/// The `workers` cell: the number, or `auto (N)`; `per-account` gets a footnote mark, and a
/// broker run its design: `100 (RabbitMQ, original)`.
pub(crate) fn workers_cell(r: &Report) -> String {
    let tag = r.backend.tag();
    match (r.strategy, r.workers_requested.as_str()) {
        (Strategy::PerAccount, _) => format!("auto ({}){tag}*", r.workers),
        (_, "auto") => format!("auto ({}){tag}", r.workers),
        (_, w) => format!("{w}{tag}"),
    }
}

/// The footnote for `per-account` rows, when any are present.
pub(crate) const PER_ACCOUNT_NOTE: &str =
    "* per-account has one lane per account by definition: it runs once, with workers = auto.";

/// `ok`, or what went wrong with the run's ordering check.
pub(crate) fn ordering_cell(r: &Report) -> String {
    if r.passed() {
        "ok".into()
    } else {
        format!(
            "FAILED ({} violations, {} dup, {} unprocessed)",
            r.ordering_violations, r.duplicates, r.unprocessed
        )
    }
}

/// The `efficiency` cell: a percentage, or `interrupted` for a run that stopped early (its
/// efficiency would compare a partial run with complete ones).
pub(crate) fn efficiency_cell(r: &Report) -> String {
    if r.interrupted {
        "interrupted".into()
    } else {
        format!("{:.2}%", r.efficiency * 100.0)
    }
}

/// The wall time, with `± σ` when it is the mean of repeated runs.
fn wall_cell(r: &Report) -> String {
    match r.repeats.as_ref().and_then(|x| x.wall_time_stddev_s) {
        Some(sd) => format!("{:.3} s ± {sd:.3}", r.wall_time_s),
        None => format!("{:.3} s", r.wall_time_s),
    }
}

/// The sweep as one aligned table.
pub(crate) fn render_table(runs: &[Report]) -> String {
    let header = [
        "strategy",
        "workers",
        "wall time",
        "lower bound",
        "efficiency",
        "p50 latency",
        "p99 latency",
        "ordering",
    ];
    let rows: Vec<[String; 8]> = runs
        .iter()
        .map(|r| {
            [
                r.strategy.to_string(),
                workers_cell(r),
                wall_cell(r),
                format!("{:.3} s", r.lower_bound_s),
                efficiency_cell(r),
                Micros(r.latency_us.p50).to_string(),
                Micros(r.latency_us.p99).to_string(),
                ordering_cell(r),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut o = String::new();
    // The last cell (the ordering verdict) is not padded, so its colour cannot shift a column.
    let line = |o: &mut String, cells: &[&str], last: Option<anstyle::Style>| {
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            // Text left, numbers right: columns 2..7 hold numbers.
            let cell = match (i + 1 == cells.len(), last) {
                (true, Some(style)) => paint(style, cell),
                (true, None) => cell.to_string(),
                _ if (2..7).contains(&i) => format!("{cell:>w$}"),
                _ => format!("{cell:<w$}"),
            };
            o.push_str(&cell);
            o.push_str(if i + 1 < cells.len() { "  " } else { "\n" });
        }
    };
    line(&mut o, &header, None);
    for (row, r) in rows.iter().zip(runs) {
        let verdict = if r.passed() { OK } else { FAIL };
        line(&mut o, &row.each_ref().map(String::as_str), Some(verdict));
    }
    if runs.iter().any(|r| r.strategy == Strategy::PerAccount) {
        let _ = writeln!(o, "{}", paint(NOTE, PER_ACCOUNT_NOTE));
    }
    o.lines().map(|l| l.trim_end().to_string() + "\n").collect()
}

/// Which runs get a histogram: all of them, or only the best and the worst by efficiency.
pub(crate) fn histogram_picks(runs: &[Report], all: bool) -> Vec<(usize, &'static str)> {
    if all {
        return (0..runs.len()).map(|i| (i, "")).collect();
    }
    let by_eff = |a: &&(usize, &Report), b: &&(usize, &Report)| {
        a.1.efficiency
            .total_cmp(&b.1.efficiency)
            .then(b.1.wall_time_s.total_cmp(&a.1.wall_time_s))
    };
    // An interrupted run is neither the best nor the worst: it did not finish.
    let indexed: Vec<(usize, &Report)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.interrupted)
        .collect();
    let best = indexed.iter().max_by(by_eff).map(|x| x.0);
    let worst = indexed.iter().min_by(by_eff).map(|x| x.0);
    match (best, worst) {
        (Some(b), Some(w)) if b != w => vec![(b, "best"), (w, "worst")],
        (Some(b), _) => vec![(b, "")],
        _ => Vec::new(),
    }
}

/// Latency histograms of the picked runs, each under a one-line title.
pub(crate) fn render_histograms(runs: &[Report], all: bool) -> String {
    let mut o = String::new();
    for (i, tag) in histogram_picks(runs, all) {
        let r = &runs[i];
        if r.latency_histogram.is_empty() {
            continue;
        }
        let tag = if tag.is_empty() {
            String::new()
        } else {
            format!(" [{tag}]")
        };
        let _ = writeln!(
            o,
            "\nlatency (queue entry to done), {} strategy, {} workers{tag}: efficiency {}",
            r.strategy,
            workers_cell(r).trim_end_matches('*'),
            efficiency_cell(r)
        );
        o.push_str(&render_histogram(&r.latency_histogram, 40, |v| {
            Micros(v).to_string()
        }));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::doc;

    #[test]
    fn histograms_default_to_best_and_worst() {
        let runs = doc().runs;
        let picks = histogram_picks(&runs, false);
        assert_eq!(picks.len(), 2);
        assert_eq!(histogram_picks(&runs, true).len(), runs.len());
        let table = render_table(&runs);
        assert_eq!(table.lines().count(), runs.len() + 2, "{table}");
        // Colour goes round the verdict alone: stripped, the columns line up as before.
        let plain = anstream::adapter::strip_str(&table).to_string();
        let header = plain.lines().next().unwrap();
        let column = header.find("ordering").unwrap();
        for (row, line) in plain
            .lines()
            .skip(1)
            .take(runs.len())
            .zip(table.lines().skip(1))
        {
            assert_eq!(&row[column..], "ok", "{plain}");
            assert!(line.ends_with(&paint(OK, "ok")), "{line:?}");
        }
    }

    #[test]
    fn an_interrupted_run_is_marked_and_never_picked() {
        let mut runs = doc().runs;
        // Run 0 (sharded, 62.5%) would be the worst; interrupted, it is left out.
        runs[0].interrupted = true;
        let picks = histogram_picks(&runs, false);
        assert!(picks.iter().all(|&(i, _)| i != 0), "{picks:?}");
        let table = render_table(&runs);
        let first = table.lines().nth(1).unwrap();
        assert!(
            first.contains("interrupted") && !first.contains('%'),
            "{table}"
        );
    }
}
