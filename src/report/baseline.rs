//! The regression gate: matches a sweep's runs with a baseline's and sorts each by its change
//! against a tolerance.

use super::sweep::{run_label, CompareDoc};
use super::Backend;
use super::Report;
use crate::color::{paint, FAIL, OK, WARN};
use crate::engine::{ClockKind, Strategy};
use std::collections::HashMap;
use std::fmt::{self, Write};
use std::str::FromStr;

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

/// One matched pair of runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Delta {
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
pub(crate) struct Comparison {
    pub tolerance: f64,
    pub regressed: Vec<Delta>,
    pub improved: Vec<Delta>,
    pub unchanged: usize,
    /// Runs of this sweep that the baseline has no match for.
    pub unmatched: Vec<String>,
    /// Workload fingerprints of the baseline, shown when nothing matched.
    pub baseline_fingerprints: Vec<String>,
}

impl Comparison {
    /// Matches every run with the baseline's run of the same key and sorts it by its change.
    pub(crate) fn of(baseline: &CompareDoc, runs: &[Report], tolerance: Tolerance) -> Comparison {
        let tol = tolerance.fraction();
        let base: HashMap<RunKey, &Report> =
            baseline.runs.iter().map(|r| (RunKey::of(r), r)).collect();
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

    /// The human summary: every regression and improvement, and what had no match.
    pub(crate) fn render(&self, runs: &[Report]) -> String {
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
            let _ = writeln!(o, "  {}  {}", paint(FAIL, "REGRESSED"), d.describe());
        }
        for d in &self.improved {
            let _ = writeln!(o, "  {}   {}", paint(OK, "improved"), d.describe());
        }
        for label in &self.unmatched {
            let _ = writeln!(o, "  no match   {label}");
        }
        let matched = self.regressed.len() + self.improved.len() + self.unchanged;
        if matched == 0 && !runs.is_empty() {
            let print = &runs[0].workload_fingerprint;
            let _ = if self.baseline_fingerprints.contains(print) {
                writeln!(
                    o,
                    "  {} nothing matched; the baseline ran this workload ({print}) but none \
                     of these strategy × workers × clock runs (same --strategies, --workers, \
                     --clock?)",
                    paint(WARN, "warning:")
                )
            } else {
                writeln!(
                    o,
                    "  {} nothing matched; this workload's fingerprint is {print}, the \
                     baseline's {} (another input or --process-time?)",
                    paint(WARN, "warning:"),
                    self.baseline_fingerprints.join(", ")
                )
            };
        }
        o
    }

    /// The exit-1 message naming every regressed run, if any regressed.
    pub(crate) fn failure(&self) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{doc, report};
    use crate::report::summary::workers_cell;
    use crate::report::Design;

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
        let c = Comparison::of(&base, &runs, "2%".parse().unwrap());
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
        let c = Comparison::of(&base, &[other.clone()], Tolerance::default());
        assert!(c.failure().is_none());
        assert_eq!(c.unmatched.len(), 1);
        assert!(c.render(&[other]).contains("nothing matched"));
    }

    #[test]
    fn the_same_workload_with_other_runs_is_not_blamed_on_the_input() {
        let base = doc();
        let mut other = base.runs[0].clone();
        other.strategy = Strategy::Optimal;
        other.workers_requested = "7".into();
        let c = Comparison::of(&base, &[other.clone()], Tolerance::default());
        assert_eq!(c.unmatched.len(), 1, "{c:?}");
        let text = c.render(&[other]);
        assert!(text.contains("the baseline ran this workload"), "{text}");
        assert!(!text.contains("another input"), "{text}");
    }

    #[test]
    fn broker_runs_never_match_memory_runs() {
        let base = doc();
        let mut runs = base.runs.clone();
        runs[0].backend = Backend::Broker(Design::Original);
        runs[0].wall_time_s *= 10.0;
        let c = Comparison::of(&base, &runs, Tolerance::default());
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
}
