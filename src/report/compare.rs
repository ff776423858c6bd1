//! Sweep results: the `compare.json` document, baseline matching and the regression verdict,
//! and the terminal summary of a sweep (one table, a few histograms).

use super::stats::render_histogram;
use super::Report;
use crate::engine::{ClockKind, Strategy};
use crate::error::UsageError;
use crate::types::Micros;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::{self, Write};
use std::path::Path;
use std::str::FromStr;

/// Where a run's events were queued: in memory, or in RabbitMQ (`compare --broker`) with our
/// consumer or with the original one-message-at-a-time design.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Memory,
    BrokerOurs,
    BrokerOriginal,
}

impl Backend {
    /// For `skip_serializing_if`: memory runs keep the JSON they always had.
    pub fn is_memory(&self) -> bool {
        *self == Backend::Memory
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::BrokerOurs => "broker-ours",
            Backend::BrokerOriginal => "broker-original",
        }
    }

    /// What the workers cell (and a plot's legend) adds to a broker run's label.
    pub fn tag(self) -> &'static str {
        match self {
            Backend::Memory => "",
            Backend::BrokerOurs => " (RabbitMQ, ours)",
            Backend::BrokerOriginal => " (RabbitMQ, original)",
        }
    }
}

/// The `compare.json` document: every run of one sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareDoc {
    pub eventbench_version: String,
    pub runs: Vec<Report>,
}

impl CompareDoc {
    pub fn new(runs: Vec<Report>) -> Self {
        CompareDoc {
            eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
            runs,
        }
    }

    /// Reads a baseline written by `compare`; anything else is a usage error (exit 2), so a
    /// wrong file fails before a long sweep rather than after it.
    pub fn load_baseline(path: &Path) -> Result<Self, UsageError> {
        let bad = |why: String| UsageError(format!("baseline {}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let looks_right = value.get("eventbench_version").is_some()
            && value.get("runs").is_some_and(|r| r.is_array());
        if !looks_right {
            return Err(bad(
                "not a compare output (expected {\"eventbench_version\": …, \"runs\": [...]}, \
                 as written to compare.json)"
                    .into(),
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            bad(format!(
                "not a compare output this version can read (another schema): {e}"
            ))
        })
    }
}

/// An allowed regression, parsed from `2%`, `0.5%`, `10%` (a percentage from 0 to 100).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance(f64);

impl Tolerance {
    /// The tolerance as a fraction (2% → 0.02).
    pub fn fraction(self) -> f64 {
        self.0
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance(0.02)
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

impl FromStr for Tolerance {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid percentage '{s}' (expected e.g. 2%, 0.5%, 10%)");
        let num = s.trim().strip_suffix('%').ok_or_else(bad)?;
        let v: f64 = num.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&v) {
            return Err(format!("percentage '{s}' must be between 0% and 100%"));
        }
        Ok(Tolerance(v / 100.0))
    }
}

/// What makes two runs comparable: same policy, same requested workers, same clock, same
/// backend, same events.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RunKey {
    strategy: Strategy,
    workers: String,
    clock: ClockKind,
    backend: Backend,
    fingerprint: String,
}

impl RunKey {
    fn of(r: &Report) -> Self {
        RunKey {
            strategy: r.strategy,
            workers: r.workers_requested.clone(),
            clock: r.clock,
            backend: r.backend,
            fingerprint: r.workload_fingerprint.clone(),
        }
    }
}

/// A short name for a run in messages: `optimal, 100 workers, virtual clock`, plus the
/// backend for broker runs (`…, real clock, broker-original`).
pub fn run_label(r: &Report) -> String {
    let backend = match r.backend {
        Backend::Memory => String::new(),
        b => format!(", {}", b.name()),
    };
    format!(
        "{}, {} workers, {} clock{backend}",
        r.strategy, r.workers_requested, r.clock
    )
}

/// One matched pair of runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    pub label: String,
    pub base_wall_s: f64,
    pub wall_s: f64,
    pub base_efficiency: f64,
    pub efficiency: f64,
}

impl Delta {
    fn describe(&self) -> String {
        format!(
            "{}: wall time {:.3} s → {:.3} s ({}), efficiency {:.2}% → {:.2}%",
            self.label,
            self.base_wall_s,
            self.wall_s,
            signed_change(self.base_wall_s, self.wall_s),
            self.base_efficiency * 100.0,
            self.efficiency * 100.0
        )
    }
}

fn signed_change(base: f64, now: f64) -> String {
    if base > 0.0 {
        format!("{:+.2}%", (now / base - 1.0) * 100.0)
    } else {
        "from zero".into()
    }
}

/// A sweep measured against a baseline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub tolerance: f64,
    pub regressed: Vec<Delta>,
    pub improved: Vec<Delta>,
    pub unchanged: usize,
    /// Runs of this sweep that the baseline has no match for.
    pub unmatched: Vec<String>,
    /// Workload fingerprints of the baseline, shown when nothing matched.
    pub baseline_fingerprints: Vec<String>,
}

/// Matches every run with the baseline's run of the same key and sorts it by its change.
pub fn compare(baseline: &CompareDoc, runs: &[Report], tolerance: Tolerance) -> Comparison {
    let tol = tolerance.fraction();
    let base: HashMap<RunKey, &Report> = baseline.runs.iter().map(|r| (RunKey::of(r), r)).collect();
    let mut c = Comparison {
        tolerance: tol,
        ..Comparison::default()
    };
    for r in runs {
        let Some(b) = base.get(&RunKey::of(r)) else {
            c.unmatched.push(run_label(r));
            continue;
        };
        let d = Delta {
            label: run_label(r),
            base_wall_s: b.wall_time_s,
            wall_s: r.wall_time_s,
            base_efficiency: b.efficiency,
            efficiency: r.efficiency,
        };
        let slower = r.wall_time_s > b.wall_time_s * (1.0 + tol);
        let less_efficient = r.efficiency < b.efficiency * (1.0 - tol);
        if slower || less_efficient {
            c.regressed.push(d);
        } else if r.wall_time_s < b.wall_time_s * (1.0 - tol) {
            c.improved.push(d);
        } else {
            c.unchanged += 1;
        }
    }
    let mut prints: Vec<String> = baseline
        .runs
        .iter()
        .map(|r| r.workload_fingerprint.clone())
        .collect();
    prints.sort();
    prints.dedup();
    c.baseline_fingerprints = prints;
    c
}

impl Comparison {
    /// The human summary: every regression and improvement, and what had no match.
    pub fn render(&self, runs: &[Report]) -> String {
        let mut o = String::new();
        let pct = self.tolerance * 100.0;
        let _ = writeln!(
            o,
            "baseline: {} regressed, {} improved, {} within ±{pct}%, {} without a match",
            self.regressed.len(),
            self.improved.len(),
            self.unchanged,
            self.unmatched.len()
        );
        for d in &self.regressed {
            let _ = writeln!(o, "  REGRESSED  {}", d.describe());
        }
        for d in &self.improved {
            let _ = writeln!(o, "  improved   {}", d.describe());
        }
        for label in &self.unmatched {
            let _ = writeln!(o, "  no match   {label}");
        }
        let matched = self.regressed.len() + self.improved.len() + self.unchanged;
        if matched == 0 && !runs.is_empty() {
            let _ = writeln!(
                o,
                "  warning: nothing matched; this workload's fingerprint is {}, the baseline's {} \
                 (another input or --process-time?)",
                runs[0].workload_fingerprint,
                self.baseline_fingerprints.join(", ")
            );
        }
        o
    }

    /// The exit-1 message naming every regressed run, if any regressed.
    pub fn failure(&self) -> Option<String> {
        if self.regressed.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.regressed.iter().map(|d| d.label.as_str()).collect();
        Some(format!(
            "{} run(s) regressed beyond {}% against the baseline: {}",
            names.len(),
            self.tolerance * 100.0,
            names.join("; ")
        ))
    }
}

/// The `workers` cell: the number, or `auto (N)`; `per-account` gets a footnote mark, and a
/// broker run its design: `100 (RabbitMQ, original)`.
pub fn workers_cell(r: &Report) -> String {
    let tag = r.backend.tag();
    match (r.strategy, r.workers_requested.as_str()) {
        (Strategy::PerAccount, _) => format!("auto ({}){tag}*", r.workers),
        (_, "auto") => format!("auto ({}){tag}", r.workers),
        (_, w) => format!("{w}{tag}"),
    }
}

/// The footnote for `per-account` rows, when any are present.
pub const PER_ACCOUNT_NOTE: &str =
    "* per-account has one lane per account by definition: it runs once, with workers = auto.";

/// `ok`, or what went wrong with the run's ordering check.
pub fn ordering_cell(r: &Report) -> String {
    if r.passed() {
        "ok".into()
    } else {
        format!(
            "FAILED ({} violations, {} dup, {} unprocessed)",
            r.ordering_violations, r.duplicates, r.unprocessed
        )
    }
}

/// The sweep as one aligned table.
pub fn render_table(runs: &[Report]) -> String {
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
                format!("{:.3} s", r.wall_time_s),
                format!("{:.3} s", r.lower_bound_s),
                format!("{:.2}%", r.efficiency * 100.0),
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
    let line = |o: &mut String, cells: &[&str]| {
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            // Text left, numbers right: columns 2..7 hold numbers.
            let cell = if (2..7).contains(&i) {
                format!("{cell:>w$}")
            } else {
                format!("{cell:<w$}")
            };
            o.push_str(&cell);
            o.push_str(if i + 1 < cells.len() { "  " } else { "\n" });
        }
    };
    line(&mut o, &header);
    for row in &rows {
        line(&mut o, &row.each_ref().map(String::as_str));
    }
    if runs.iter().any(|r| r.strategy == Strategy::PerAccount) {
        let _ = writeln!(o, "{PER_ACCOUNT_NOTE}");
    }
    o.lines().map(|l| l.trim_end().to_string() + "\n").collect()
}

/// Which runs get a histogram: all of them, or only the best and the worst by efficiency.
pub fn histogram_picks(runs: &[Report], all: bool) -> Vec<(usize, &'static str)> {
    if all {
        return (0..runs.len()).map(|i| (i, "")).collect();
    }
    let by_eff = |a: &&(usize, &Report), b: &&(usize, &Report)| {
        a.1.efficiency
            .total_cmp(&b.1.efficiency)
            .then(b.1.wall_time_s.total_cmp(&a.1.wall_time_s))
    };
    let indexed: Vec<(usize, &Report)> = runs.iter().enumerate().collect();
    let best = indexed.iter().max_by(by_eff).map(|x| x.0);
    let worst = indexed.iter().min_by(by_eff).map(|x| x.0);
    match (best, worst) {
        (Some(b), Some(w)) if b != w => vec![(b, "best"), (w, "worst")],
        (Some(b), _) => vec![(b, "")],
        _ => Vec::new(),
    }
}

/// Latency histograms of the picked runs, each under a one-line title.
pub fn render_histograms(runs: &[Report], all: bool) -> String {
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
            "\nlatency (queue entry to done), {} strategy, {} workers{tag}: efficiency {:.2}%",
            r.strategy,
            workers_cell(r).trim_end_matches('*'),
            r.efficiency * 100.0
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
    use crate::export::fixture::{doc, report};

    #[test]
    fn tolerance_parses_percentages_only() {
        assert_eq!("2%".parse::<Tolerance>().unwrap().fraction(), 0.02);
        assert_eq!("0.5%".parse::<Tolerance>().unwrap().fraction(), 0.005);
        assert_eq!("10%".parse::<Tolerance>().unwrap().fraction(), 0.1);
        for bad in ["2", "-1%", "101%", "x%", "", "nan%"] {
            assert!(bad.parse::<Tolerance>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slower_runs_regress_and_faster_ones_improve() {
        let base = doc();
        let mut runs = base.runs.clone();
        runs[0].wall_time_s *= 1.05;
        runs[0].efficiency /= 1.05;
        runs[1].wall_time_s *= 0.5;
        runs[2].wall_time_s *= 1.01;
        let c = compare(&base, &runs, "2%".parse().unwrap());
        assert_eq!(c.regressed.len(), 1, "{c:?}");
        assert_eq!(c.improved.len(), 1);
        assert_eq!(c.unchanged, 2);
        let msg = c.failure().unwrap();
        assert!(msg.contains(&run_label(&runs[0])), "{msg}");
    }

    #[test]
    fn other_workloads_are_listed_not_failed() {
        let base = doc();
        let mut other = report(Strategy::Optimal, "10", 5.0, 5.0);
        other.workload_fingerprint = "ffffffffffffffff".into();
        let c = compare(&base, &[other.clone()], Tolerance::default());
        assert!(c.failure().is_none());
        assert_eq!(c.unmatched.len(), 1);
        assert!(c.render(&[other]).contains("nothing matched"));
    }

    #[test]
    fn a_run_report_is_not_a_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, serde_json::to_string(&doc().runs[0]).unwrap()).unwrap();
        let err = CompareDoc::load_baseline(&path).unwrap_err();
        assert!(err.0.contains("not a compare output"), "{}", err.0);
        std::fs::write(&path, serde_json::to_string(&doc()).unwrap()).unwrap();
        assert_eq!(CompareDoc::load_baseline(&path).unwrap(), doc());
    }

    #[test]
    fn broker_runs_never_match_memory_runs() {
        let base = doc();
        let mut runs = base.runs.clone();
        runs[0].backend = Backend::BrokerOriginal;
        runs[0].wall_time_s *= 10.0;
        let c = compare(&base, &runs, Tolerance::default());
        assert!(c.failure().is_none(), "{c:?}");
        assert_eq!(c.unmatched, vec![run_label(&runs[0])]);
        assert!(c.unmatched[0].ends_with("broker-original"), "{c:?}");
        assert_eq!(workers_cell(&runs[0]), "2 (RabbitMQ, original)");
        let json = serde_json::to_value(&runs[0]).unwrap();
        assert_eq!(json["backend"], "broker-original");
        assert!(serde_json::to_value(&runs[1])
            .unwrap()
            .get("backend")
            .is_none());
    }

    #[test]
    fn histograms_default_to_best_and_worst() {
        let runs = doc().runs;
        let picks = histogram_picks(&runs, false);
        assert_eq!(picks.len(), 2);
        assert_eq!(histogram_picks(&runs, true).len(), runs.len());
        let table = render_table(&runs);
        assert_eq!(table.lines().count(), runs.len() + 2, "{table}");
    }
}
