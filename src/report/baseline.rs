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
    /// The sample σ of each side's wall time, when both were repeated runs (`--runs`).
    pub spread: Option<Spread>,
}

/// The wall-time σ of the baseline's run and of this run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Spread {
    pub base_stddev_s: f64,
    pub stddev_s: f64,
}

/// The run-to-run σ of a report's wall time: only a repeated run has one.
fn stddev(r: &Report) -> Option<f64> {
    r.repeats.as_ref().and_then(|x| x.wall_time_stddev_s)
}

impl Spread {
    /// Both sides' σ, when both have one.
    fn of(base: &Report, now: &Report) -> Option<Spread> {
        Some(Spread {
            base_stddev_s: stddev(base)?,
            stddev_s: stddev(now)?,
        })
    }

    /// σ of the difference between a run of each side: √(σ_base² + σ_now²). Not the standard
    /// error of the means (σ/√n): on a shared machine the noise drifts from run to run rather
    /// than averaging out, and the gate should not fail on it.
    pub(crate) fn combined_s(&self) -> f64 {
        self.base_stddev_s.hypot(self.stddev_s)
    }

    /// The same for the efficiency: each side's relative wall-time σ carried over to its
    /// efficiency (bound / mean wall time).
    fn combined_efficiency(&self, d: &Delta) -> f64 {
        let rel = |sd: f64, wall: f64| if wall > 0.0 { sd / wall } else { 0.0 };
        (d.base_efficiency * rel(self.base_stddev_s, d.base_wall_s))
            .hypot(d.efficiency * rel(self.stddev_s, d.wall_s))
    }
}

/// Where a matched run falls against the tolerance (and the spread, when both sides have one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Judgement {
    Regressed,
    Improved,
    Unchanged,
    /// Beyond the tolerance, but by no more than 2 σ of the combined spread.
    WithinNoise,
}

impl Delta {
    fn describe(&self) -> String {
        let (base_sd, sd, noise) = match &self.spread {
            Some(s) => (
                format!(" ± {:.3}", s.base_stddev_s),
                format!(" ± {:.3}", s.stddev_s),
                format!(", 2 σ = {:.3} s", 2.0 * s.combined_s()),
            ),
            None => Default::default(),
        };
        format!(
            "{}: wall time {:.3} s{base_sd} → {:.3} s{sd} ({}{noise}), efficiency {:.2}% → {:.2}%",
            self.label,
            self.base_wall_s,
            self.wall_s,
            signed_change(self.base_wall_s, self.wall_s),
            self.base_efficiency * 100.0,
            self.efficiency * 100.0
        )
    }

    /// Today's rule for single runs: wall time up, or efficiency down, by more than the
    /// tolerance is a regression; wall time down by more is an improvement. With a spread on
    /// both sides a move must also exceed 2 σ of the combined spread, or it is noise.
    fn judge(&self, tol: f64) -> Judgement {
        let slower = self.wall_s > self.base_wall_s * (1.0 + tol);
        let less_efficient = self.efficiency < self.base_efficiency * (1.0 - tol);
        let faster = self.wall_s < self.base_wall_s * (1.0 - tol);
        let Some(s) = &self.spread else {
            return match (slower || less_efficient, faster) {
                (true, _) => Judgement::Regressed,
                (false, true) => Judgement::Improved,
                _ => Judgement::Unchanged,
            };
        };
        let (two_sd, two_sd_eff) = (2.0 * s.combined_s(), 2.0 * s.combined_efficiency(self));
        let moved = self.wall_s - self.base_wall_s;
        let slower_beyond = slower && moved > two_sd;
        let less_efficient_beyond =
            less_efficient && self.base_efficiency - self.efficiency > two_sd_eff;
        if slower_beyond || less_efficient_beyond {
            Judgement::Regressed
        } else if faster && -moved > two_sd {
            Judgement::Improved
        } else if slower || less_efficient || faster {
            Judgement::WithinNoise
        } else {
            Judgement::Unchanged
        }
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
    /// Runs that moved beyond the tolerance but within 2 σ of the spread (repeated runs on
    /// both sides only): neither regressed nor improved.
    pub noisy: Vec<Delta>,
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
                spread: Spread::of(b, r),
            };
            match d.judge(tol) {
                Judgement::Regressed => c.regressed.push(d),
                Judgement::Improved => c.improved.push(d),
                Judgement::WithinNoise => c.noisy.push(d),
                Judgement::Unchanged => c.unchanged += 1,
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
        self.regressed.len() + self.improved.len() + self.unchanged + self.noisy.len()
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
        // Single runs never have noise: their line stays as it was.
        let noise = match self.noisy.len() {
            0 => String::new(),
            n => format!(", {n} within the noise (2 σ)"),
        };
        let _ = writeln!(
            o,
            "baseline: {} regressed, {} improved, {} within ±{pct}%{noise}, {} without a match",
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
        for d in &self.noisy {
            let _ = writeln!(o, "  noise      {}", d.describe());
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
mod tests;
