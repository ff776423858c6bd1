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

/// A share written either way: `90%` or `0.9`. `what` and `example` name the flag's meaning
/// in the error; a bare number above 1 is refused with the percentage it probably meant.
pub(crate) fn parse_share(s: &str, what: &str, example: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("invalid {what} '{s}' (expected e.g. {example})"))?;
    let v = if percent { v / 100.0 } else { v };
    if !(0.0..=1.0).contains(&v) {
        let hint = if !percent && v > 1.0 && v <= 100.0 {
            format!(" (did you mean {v}%?)")
        } else {
            String::new()
        };
        return Err(format!(
            "invalid {what} '{s}': must be between 0 and 1, or 0% and 100%{hint}"
        ));
    }
    Ok(v)
}

/// An allowed regression: `2%`, `0.5%`, or the same as a fraction, `0.02`.
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
        parse_share(s, "percentage", "2%, 0.5%, 10% or 0.02").map(Tolerance)
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
    /// Runs of this sweep that were interrupted: a partial run is never compared.
    pub interrupted: Vec<String>,
    /// Workload fingerprints of the baseline, shown when nothing matched.
    pub baseline_fingerprints: Vec<String>,
    /// Why nothing matched (set only when no run did): another workload, or other runs.
    pub nothing_matched: Option<String>,
}

impl Comparison {
    /// Matches every run with the baseline's run of the same key and sorts it by its change.
    pub(crate) fn of(baseline: &CompareDoc, runs: &[Report], tolerance: Tolerance) -> Comparison {
        let tol = tolerance.fraction();
        // A baseline's interrupted run has no efficiency and a partial wall time: no match.
        let base: HashMap<RunKey, &Report> = baseline
            .runs
            .iter()
            .filter(|r| !r.interrupted)
            .map(|r| (RunKey::of(r), r))
            .collect();
        let mut c = Comparison {
            tolerance: tol,
            ..Comparison::default()
        };
        for r in runs {
            if r.interrupted {
                c.interrupted.push(run_label(r));
                continue;
            }
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
        if c.matched() == 0 && !c.unmatched.is_empty() {
            let print = runs
                .iter()
                .find(|r| !r.interrupted)
                .map(|r| &r.workload_fingerprint);
            c.nothing_matched = print.map(|p| c.why_nothing_matched(p));
        }
        c
    }

    /// Runs that had a baseline run to compare with.
    pub(crate) fn matched(&self) -> usize {
        self.regressed.len() + self.improved.len() + self.unchanged
    }

    fn why_nothing_matched(&self, print: &str) -> String {
        if self.baseline_fingerprints.iter().any(|p| p == print) {
            format!(
                "the baseline ran this workload ({print}) but none of these strategy × workers × \
                 clock runs (same --strategies, --workers, --clock?)"
            )
        } else {
            format!(
                "this workload's fingerprint is {print}, the baseline's {} (another input or \
                 --process-time?)",
                self.baseline_fingerprints.join(", ")
            )
        }
    }

    /// The human summary: every regression and improvement, and what had no match.
    pub(crate) fn render(&self) -> String {
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
        for label in &self.interrupted {
            let _ = writeln!(o, "  interrupted {label}: not compared");
        }
        if let Some(why) = &self.nothing_matched {
            let _ = writeln!(o, "  {} {why}", paint(WARN, "nothing matched:"));
        }
        o
    }

    /// The exit-1 messages: every regressed run; a baseline that matched no run (a gate that
    /// compared nothing has not passed); runs without a match, unless `allow_missing`.
    pub(crate) fn failures(&self, allow_missing: bool) -> Vec<String> {
        let mut out = Vec::new();
        if !self.regressed.is_empty() {
            let names: Vec<&str> = self.regressed.iter().map(|d| d.label.as_str()).collect();
            out.push(format!(
                "{} run(s) regressed beyond {}% against the baseline: {}",
                names.len(),
                self.tolerance * 100.0,
                names.join("; ")
            ));
        }
        if let Some(why) = &self.nothing_matched {
            out.push(format!(
                "the baseline matched none of the {} runs, so nothing was compared: {why}",
                self.unmatched.len()
            ));
        } else if !self.unmatched.is_empty() && !allow_missing {
            out.push(format!(
                "{} of {} runs have no match in the baseline and were not compared: {} \
                 (--allow-missing to accept)",
                self.unmatched.len(),
                self.unmatched.len() + self.matched(),
                self.unmatched.join("; ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{doc, report};
    use crate::report::summary::workers_cell;
    use crate::report::Design;

    #[test]
    fn tolerance_parses_percentages_and_fractions() {
        assert_eq!("2%".parse::<Tolerance>().unwrap().fraction(), 0.02);
        assert_eq!("0.5%".parse::<Tolerance>().unwrap().fraction(), 0.005);
        assert_eq!("10%".parse::<Tolerance>().unwrap().fraction(), 0.1);
        assert_eq!("0.02".parse::<Tolerance>().unwrap().fraction(), 0.02);
        assert_eq!("0".parse::<Tolerance>().unwrap().fraction(), 0.0);
        for bad in ["-1%", "101%", "x%", "", "nan%", "1.5", "inf"] {
            assert!(bad.parse::<Tolerance>().is_err(), "{bad}");
        }
        // A bare 2 is 200%: refused, with the percentage it probably meant.
        let err = "2".parse::<Tolerance>().unwrap_err();
        assert!(err.contains("did you mean 2%?"), "{err}");
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
        let msg = c.failures(false).join("\n");
        assert!(msg.contains(&run_label(&runs[0])), "{msg}");
    }

    #[test]
    fn interrupted_runs_are_never_compared_on_either_side() {
        let mut base = doc();
        // A baseline row that was interrupted would make any complete run look faster.
        base.runs[0].interrupted = true;
        base.runs[0].wall_time_s = 1.0;
        let mut runs = doc().runs;
        // And an interrupted run now would look like a regression (or an improvement).
        runs[1].interrupted = true;
        runs[1].wall_time_s *= 10.0;
        let c = Comparison::of(&base, &runs, Tolerance::default());
        assert!(c.failures(true).is_empty(), "{c:?}");
        assert_eq!(c.interrupted, vec![run_label(&runs[1])]);
        assert_eq!(c.unmatched, vec![run_label(&runs[0])]);
        assert_eq!(c.unchanged, runs.len() - 2);
        assert!(c.render().contains("interrupted"), "{}", c.render());
    }

    #[test]
    fn a_baseline_of_another_workload_fails_and_says_why() {
        let base = doc();
        let mut other = report(Strategy::Optimal, "10", 5.0, 5.0);
        other.workload_fingerprint = "ffffffffffffffff".into();
        let c = Comparison::of(&base, &[other.clone()], Tolerance::default());
        // A gate that compared nothing has not passed, --allow-missing or not.
        let failed = c.failures(true);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].contains("matched none of the 1 runs"),
            "{failed:?}"
        );
        assert!(
            failed[0].contains("fingerprint is ffffffffffffffff"),
            "{failed:?}"
        );
        assert_eq!(c.unmatched.len(), 1);
        assert!(c.render().contains("nothing matched"));
    }

    #[test]
    fn runs_without_a_match_fail_unless_allowed() {
        let base = doc();
        let mut runs = base.runs.clone();
        let mut extra = runs[0].clone();
        extra.workers_requested = "7".into();
        runs.push(extra.clone());
        let c = Comparison::of(&base, &runs, Tolerance::default());
        let failed = c.failures(false);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].contains("1 of 5 runs have no match"),
            "{failed:?}"
        );
        assert!(failed[0].contains(&run_label(&extra)), "{failed:?}");
        assert!(failed[0].contains("--allow-missing"), "{failed:?}");
        assert!(c.failures(true).is_empty());
    }

    #[test]
    fn the_same_workload_with_other_runs_is_not_blamed_on_the_input() {
        let base = doc();
        let mut other = base.runs[0].clone();
        other.strategy = Strategy::Optimal;
        other.workers_requested = "7".into();
        let c = Comparison::of(&base, &[other.clone()], Tolerance::default());
        assert_eq!(c.unmatched.len(), 1, "{c:?}");
        let text = c.render();
        assert!(text.contains("the baseline ran this workload"), "{text}");
        assert!(c.failures(true)[0].contains("the baseline ran this workload"));
        assert!(!text.contains("another input"), "{text}");
    }

    #[test]
    fn broker_runs_never_match_memory_runs() {
        let base = doc();
        let mut runs = base.runs.clone();
        runs[0].backend = Backend::Broker(Design::Original);
        runs[0].wall_time_s *= 10.0;
        let c = Comparison::of(&base, &runs, Tolerance::default());
        assert!(c.failures(true).is_empty(), "{c:?}");
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
