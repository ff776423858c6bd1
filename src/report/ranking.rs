//! The verdict lines at the end of a sweep, as hyperfine ends its summary: the fastest
//! configuration, then how many times faster the fastest of each worker count ran than the
//! others of that count, with σ from the repeated runs.

use super::{Backend, Report};
use crate::engine::ClockKind;
use std::fmt::Write;

/// A ratio of two mean wall times, with its σ when both sides had repeated runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Ratio {
    pub ratio: f64,
    pub stddev: Option<f64>,
}

/// `slow / fast` with the σ propagated from each side's: the relative σs add in quadrature,
/// σ_r = r · √((σ_s/m_s)² + (σ_f/m_f)²). No σ unless both sides have one. None when the
/// faster time is zero (an empty workload): no ratio to give.
pub(crate) fn ratio(slow: (f64, Option<f64>), fast: (f64, Option<f64>)) -> Option<Ratio> {
    if fast.0 <= 0.0 || slow.0 < 0.0 {
        return None;
    }
    let r = slow.0 / fast.0;
    let stddev = match (slow.1, fast.1) {
        (Some(ss), Some(sf)) if slow.0 > 0.0 => Some(r * ((ss / slow.0).hypot(sf / fast.0))),
        _ => None,
    };
    Some(Ratio { ratio: r, stddev })
}

/// The fastest run of one clock, with every run tied with it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fastest {
    /// The runs whose wall time reads the same as the best one's at the precision shown,
    /// in sweep order; one label when there is no tie.
    pub labels: Vec<String>,
    /// Named only when the sweep ran on more than one clock.
    pub clock: Option<ClockKind>,
    pub wall_s: f64,
    /// The σ of each tied run (with `--runs`), in the order of `labels`.
    pub stddevs_s: Vec<Option<f64>>,
}

/// One "X ran r ± σ times faster than Y" line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Faster {
    pub faster: String,
    pub slower: String,
    pub by: Ratio,
    /// For the conclusion: the faster run's strategy (with backend), its worker count and
    /// efficiency, and the slower run's strategy.
    pub fast_strategy: String,
    pub workers: String,
    pub efficiency: f64,
    pub slow_strategy: String,
    /// The two wall times read the same at the precision shown.
    pub tied: bool,
}

/// The verdict lines of a sweep.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Ranking {
    pub fastest: Vec<Fastest>,
    pub faster: Vec<Faster>,
}

/// `optimal (100 workers)`, `optimal (auto, 1000 workers)`, `sharded (100 workers, RabbitMQ
/// original)`.
pub(crate) fn config_label(r: &Report) -> String {
    let workers = match r.workers_requested.as_str() {
        "auto" => format!("auto, {} workers", r.workers),
        w => format!("{w} workers"),
    };
    let backend = match r.backend {
        Backend::Memory => String::new(),
        b => format!(", {}", b.name()),
    };
    format!("{} ({workers}{backend})", r.strategy)
}

/// `optimal`, `sharded (RabbitMQ original)`.
fn strategy_label(r: &Report) -> String {
    match r.backend {
        Backend::Memory => r.strategy.to_string(),
        b => format!("{} ({})", r.strategy, b.name()),
    }
}

/// `100 workers`, `auto (1000) workers`.
fn workers_label(r: &Report) -> String {
    match r.workers_requested.as_str() {
        "auto" => format!("auto ({}) workers", r.workers),
        w => format!("{w} workers"),
    }
}

fn wall(r: &Report) -> (f64, Option<f64>) {
    let sd = r.repeats.as_ref().and_then(|x| x.wall_time_stddev_s);
    (r.wall_time_s, sd)
}

/// A wall time as the verdict lines show it: to the millisecond.
fn shown(wall_s: f64) -> String {
    format!("{wall_s:.3}")
}

/// Two wall times that read the same in the lines: no run of them is the faster one.
fn tied(a: f64, b: f64) -> bool {
    shown(a) == shown(b)
}

/// The first of the fastest (sweep order names the first of tied runs; the lines say who
/// tied with it).
fn fastest<'a>(runs: impl Iterator<Item = &'a Report>) -> Option<&'a Report> {
    runs.fold(None, |best: Option<&Report>, r| match best {
        Some(b) if b.wall_time_s <= r.wall_time_s => Some(b),
        _ => Some(r),
    })
}

impl Ranking {
    /// Ranks the runs that finished and passed their checks: an interrupted run's time is
    /// partial, and a failed run's is not a result. Runs compare within one worker count,
    /// one clock and one of memory or broker.
    pub(crate) fn of(runs: &[Report]) -> Ranking {
        let valid: Vec<&Report> = runs
            .iter()
            .filter(|r| !r.interrupted && r.passed())
            .collect();
        let mut clocks: Vec<ClockKind> = valid.iter().map(|r| r.clock).collect();
        clocks.sort_by_key(|c| c.to_string());
        clocks.dedup();
        let mut out = Ranking::default();
        for &c in &clocks {
            let on_clock = || valid.iter().copied().filter(move |r| r.clock == c);
            if let Some(f) = fastest(on_clock()) {
                let ties: Vec<&Report> = on_clock()
                    .filter(|r| tied(r.wall_time_s, f.wall_time_s))
                    .collect();
                out.fastest.push(Fastest {
                    labels: ties.iter().map(|r| config_label(r)).collect(),
                    clock: (clocks.len() > 1).then_some(c),
                    wall_s: f.wall_time_s,
                    stddevs_s: ties.iter().map(|r| wall(r).1).collect(),
                });
            }
        }
        let group = |r: &Report| {
            (
                r.workers_requested.clone(),
                r.clock,
                r.backend == Backend::Memory,
            )
        };
        let groups: Vec<_> = valid.iter().map(|r| group(r)).collect();
        let mut seen = Vec::new();
        for g in groups {
            if seen.contains(&g) {
                continue;
            }
            let members: Vec<&Report> = valid.iter().copied().filter(|r| group(r) == g).collect();
            seen.push(g);
            let Some(best) = fastest(members.iter().copied()) else {
                continue;
            };
            for other in members.iter().filter(|r| !std::ptr::eq(**r, best)) {
                if let Some(by) = ratio(wall(other), wall(best)) {
                    out.faster.push(Faster {
                        faster: config_label(best),
                        slower: config_label(other),
                        by,
                        fast_strategy: strategy_label(best),
                        workers: workers_label(best),
                        efficiency: best.efficiency,
                        slow_strategy: strategy_label(other),
                        tied: tied(other.wall_time_s, best.wall_time_s),
                    });
                }
            }
        }
        out
    }

    /// The sweep in one line: the widest gap between strategies at one worker count, e.g.
    /// `optimal at 100 workers: 1.61× faster than sharded, 100% of the bound`. None when no
    /// two strategies ran at the same worker count.
    pub(crate) fn conclusion(&self) -> Option<String> {
        let all_tied = self.faster.iter().all(Faster::as_fast);
        let x = self
            .faster
            .iter()
            .fold(None, |best: Option<&Faster>, x| match best {
                Some(b) if b.by.ratio >= x.by.ratio => Some(b),
                _ => Some(x),
            })?;
        // Rounded down to 0.1% (99.97% is not 100%), past float noise in bound / wall.
        let tenths = (x.efficiency * 1000.0 + 1e-6).floor() / 10.0;
        let pct = format!("{tenths}% of the bound");
        if all_tied {
            return Some(format!(
                "every strategy ran as fast as the others at each worker count; {} at {}: {pct}",
                x.fast_strategy, x.workers
            ));
        }
        let sd = x.by.stddev.map_or(String::new(), |s| format!(" ± {s:.2}"));
        Some(format!(
            "{} at {}: {:.2}{sd}× faster than {}, {pct}",
            x.fast_strategy, x.workers, x.by.ratio, x.slow_strategy
        ))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fastest.is_empty()
    }

    /// The lines, plain text, one per line: `fastest: …` then the `… ran … than …` lines.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.fastest {
            out.push(f.line());
        }
        for x in &self.faster {
            out.push(x.line());
        }
        out
    }

    /// The terminal block: a `summary` heading and the lines indented under it.
    pub(crate) fn render(&self) -> String {
        let mut o = String::new();
        if self.is_empty() {
            return o;
        }
        let _ = writeln!(o, "summary");
        for l in self.lines() {
            let _ = writeln!(o, "  {l}");
        }
        o
    }
}

/// How many tied runs the `fastest` line names before it counts the rest.
const NAMED_TIES: usize = 3;

impl Fastest {
    /// `fastest: optimal (100 workers), 1.000 s ± 0.100 s`; tied runs are all named (past
    /// three, counted): `fastest: A and B, tied at 8.000 s`, with `(σ 0.1–0.2 s)` when they
    /// were repeated.
    fn line(&self) -> String {
        let on = self
            .clock
            .map_or(String::new(), |c| format!(" on the {c} clock"));
        let wall = shown(self.wall_s);
        if let [label] = self.labels.as_slice() {
            let sd = self.stddevs_s[0].map_or(String::new(), |s| format!(" ± {s:.3} s"));
            return format!("fastest{on}: {label}, {wall} s{sd}");
        }
        let n = self.labels.len();
        let who = if n > NAMED_TIES {
            let named = self.labels[..NAMED_TIES - 1].join(", ");
            format!("{named} and {} others", n - (NAMED_TIES - 1))
        } else {
            let (last, rest) = self.labels.split_last().expect("two or more labels");
            format!("{} and {last}", rest.join(", "))
        };
        let sds: Vec<f64> = self.stddevs_s.iter().flatten().copied().collect();
        let lo = sds.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = sds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sd = match sds.len() {
            0 => String::new(),
            _ if format!("{lo:.3}") == format!("{hi:.3}") => format!(" (σ {lo:.3} s)"),
            _ => format!(" (σ {lo:.3}–{hi:.3} s)"),
        };
        format!("fastest{on}: {who}, tied at {wall} s{sd}")
    }
}

impl Faster {
    /// Neither run was the faster: their times read the same, with no spread to weigh.
    fn as_fast(&self) -> bool {
        self.tied && self.by.stddev.is_none()
    }

    /// `optimal (100 workers) ran 1.61 ± 0.01 times faster than sharded (100 workers)`; two
    /// runs whose times read the same (the virtual clock often gives them) ran `as fast as`
    /// each other.
    pub(crate) fn line(&self) -> String {
        let by = &self.by;
        if self.as_fast() {
            return format!("{} ran as fast as {}", self.faster, self.slower);
        }
        let sd = by.stddev.map_or(String::new(), |s| format!(" ± {s:.2}"));
        format!(
            "{} ran {:.2}{sd} times faster than {}",
            self.faster, by.ratio, self.slower
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Strategy;
    use crate::report::fixture::{doc, report};
    use crate::report::repeat::combine;

    #[test]
    fn the_ratio_of_means_with_relative_sigmas_in_quadrature() {
        // 1.61 s ± 1% over 1.0 s ± 0.5%: σ = 1.61 · √(0.01² + 0.005²).
        let r = ratio((1.61, Some(0.0161)), (1.0, Some(0.005))).unwrap();
        assert!((r.ratio - 1.61).abs() < 1e-12);
        let want = 1.61 * (0.0001f64 + 0.000025).sqrt();
        assert!((r.stddev.unwrap() - want).abs() < 1e-12, "{r:?}");
        // One side without a spread: no σ, never a σ of one side alone.
        assert_eq!(ratio((2.0, None), (1.0, Some(0.1))).unwrap().stddev, None);
        assert_eq!(ratio((2.0, Some(0.1)), (1.0, None)).unwrap().stddev, None);
        // Nothing to divide by.
        assert_eq!(ratio((1.0, None), (0.0, None)), None);
        let x = Faster {
            faster: "optimal (100 workers)".into(),
            slower: "sharded (100 workers)".into(),
            by: r,
            fast_strategy: "optimal".into(),
            workers: "100 workers".into(),
            efficiency: 1.0,
            slow_strategy: "sharded".into(),
            tied: false,
        };
        assert_eq!(
            x.line(),
            "optimal (100 workers) ran 1.61 ± 0.02 times faster than sharded (100 workers)"
        );
    }

    #[test]
    fn the_fixture_ranks_within_each_worker_count() {
        let r = Ranking::of(&doc().runs);
        assert_eq!(
            r.lines(),
            vec![
                "fastest: optimal (auto, 4 workers) and per-account (auto, 4 workers), \
                 tied at 8.000 s",
                "pool (2 workers) ran 1.60 times faster than sharded (2 workers)",
                "optimal (auto, 4 workers) ran as fast as per-account (auto, 4 workers)",
            ]
        );
        assert!(r.render().starts_with("summary\n  fastest: "));
        // 2 workers is where the strategies differ most: pool 1.60× sharded, on its bound.
        assert_eq!(
            r.conclusion().unwrap(),
            "pool at 2 workers: 1.60× faster than sharded, 100% of the bound"
        );
    }

    #[test]
    fn interrupted_and_failed_runs_take_no_part() {
        let mut runs = doc().runs;
        // The interrupted pool run would be the fastest of 2 workers, and the failed optimal
        // run the fastest of all.
        runs[1].interrupted = true;
        runs[1].wall_time_s = 1.0;
        runs[2].ordering_violations = 3;
        runs[2].wall_time_s = 0.5;
        let r = Ranking::of(&runs);
        assert_eq!(
            r.lines(),
            vec!["fastest: per-account (auto, 4 workers), 8.000 s"]
        );
        assert!(Ranking::of(&[]).render().is_empty());
    }

    #[test]
    fn runs_that_read_the_same_time_are_all_named_and_none_ran_faster() {
        // 8.0001 s reads 8.000 s: no faster than 8.000 s at the precision shown.
        let runs = vec![
            report(Strategy::Sharded, "4", 8.0, 8.0001),
            report(Strategy::Pool, "4", 8.0, 8.0),
            report(Strategy::Optimal, "auto", 8.0, 9.0),
        ];
        let r = Ranking::of(&runs);
        assert_eq!(
            r.lines(),
            vec![
                "fastest: sharded (4 workers) and pool (4 workers), tied at 8.000 s",
                "pool (4 workers) ran as fast as sharded (4 workers)",
            ]
        );
        assert!(r
            .conclusion()
            .unwrap()
            .starts_with("every strategy ran as fast"));
        // Past three, the rest are counted.
        let five: Vec<Report> = ["1", "2", "3", "4", "5"]
            .iter()
            .map(|w| report(Strategy::Pool, w, 8.0, 8.0))
            .collect();
        assert_eq!(
            Ranking::of(&five).lines()[0],
            "fastest: pool (1 workers), pool (2 workers) and 3 others, tied at 8.000 s"
        );
    }

    #[test]
    fn tied_repeated_runs_give_the_range_of_their_sigmas() {
        let runs = |s, walls: &[f64]| {
            let reports = walls.iter().map(|&w| report(s, "100", 1.0, w)).collect();
            combine(reports, 1)
        };
        let a = runs(Strategy::Optimal, &[1.0, 1.1, 0.9]);
        let b = runs(Strategy::Pool, &[1.0, 1.2, 0.8]);
        assert_eq!(
            Ranking::of(&[a, b]).lines()[0],
            "fastest: optimal (100 workers) and pool (100 workers), tied at 1.000 s \
             (σ 0.100–0.200 s)"
        );
    }

    #[test]
    fn repeated_runs_carry_their_sigma_into_the_line() {
        let runs = |s, walls: &[f64]| {
            let reports = walls.iter().map(|&w| report(s, "100", 1.0, w)).collect();
            combine(reports, 1)
        };
        let fast = runs(Strategy::Optimal, &[1.0, 1.1, 0.9]);
        let slow = runs(Strategy::Sharded, &[1.5, 1.6, 1.7]);
        let r = Ranking::of(&[slow, fast]);
        // 1.6/1.0 = 1.60; σ = 1.6 · √((0.1/1.6)² + (0.1/1.0)²) = 0.1887 → 0.19.
        assert_eq!(
            r.lines(),
            vec![
                "fastest: optimal (100 workers), 1.000 s ± 0.100 s",
                "optimal (100 workers) ran 1.60 ± 0.19 times faster than sharded (100 workers)",
            ]
        );
    }
}
