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

/// The fastest run of one clock.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fastest {
    pub label: String,
    /// Named only when the sweep ran on more than one clock.
    pub clock: Option<ClockKind>,
    pub wall_s: f64,
    pub stddev_s: Option<f64>,
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

/// The first of the fastest (sweep order breaks ties).
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
            if let Some(f) = fastest(valid.iter().copied().filter(|r| r.clock == c)) {
                out.fastest.push(Fastest {
                    label: config_label(f),
                    clock: (clocks.len() > 1).then_some(c),
                    wall_s: f.wall_time_s,
                    stddev_s: wall(f).1,
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
        if x.by.ratio == 1.0 && x.by.stddev.is_none() {
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
            let on = f
                .clock
                .map_or(String::new(), |c| format!(" on the {c} clock"));
            let sd = f.stddev_s.map_or(String::new(), |s| format!(" ± {s:.3} s"));
            out.push(format!("fastest{on}: {}, {:.3} s{sd}", f.label, f.wall_s));
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

impl Faster {
    /// `optimal (100 workers) ran 1.61 ± 0.01 times faster than sharded (100 workers)`; two
    /// runs of exactly the same time (the virtual clock) ran `as fast as` each other.
    pub(crate) fn line(&self) -> String {
        let by = &self.by;
        if by.ratio == 1.0 && by.stddev.is_none() {
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
                "fastest: optimal (auto, 4 workers), 8.000 s",
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
