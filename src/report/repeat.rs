//! Repeated measurement (`--runs N --warmup N`): the spread of the wall time over the measured
//! runs of one configuration, and the one report that stands for them.

use super::Report;
use serde::{Deserialize, Serialize};

/// How often to run one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Repeat {
    /// Runs first and thrown away (page cache, allocator, CPU frequency).
    pub warmup: u32,
    /// Runs measured; at least 1.
    pub runs: u32,
}

impl Repeat {
    /// A single measured run, no warmup: the report is the run's own, without `repeats`.
    pub(crate) const ONCE: Repeat = Repeat { warmup: 0, runs: 1 };
}

/// The measured runs' wall times and their statistics (fields of the report, present only
/// when a run was repeated or warmed up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Repeats {
    /// Runs before the measured ones, not counted.
    pub warmup_runs: u32,
    /// Every measured run's wall time, in the order they ran.
    pub wall_times_s: Vec<f64>,
    pub wall_time_mean_s: f64,
    /// Sample standard deviation (n − 1); null with one measured run.
    pub wall_time_stddev_s: Option<f64>,
    pub wall_time_min_s: f64,
    pub wall_time_max_s: f64,
    /// The lowest and the highest efficiency of a single run.
    pub efficiency_min: f64,
    pub efficiency_max: f64,
}

impl Repeats {
    /// The mean ± σ, for the terminal: `1.234 s ± 0.012 s (mean of 5 runs, …)`.
    pub(crate) fn describe(&self) -> String {
        let sigma = self
            .wall_time_stddev_s
            .map_or(String::new(), |s| format!(" ± {s:.3} s"));
        format!(
            "{:.3} s{sigma} (mean of {} runs after {} warmup, min {:.3} s, max {:.3} s)",
            self.wall_time_mean_s,
            self.wall_times_s.len(),
            self.warmup_runs,
            self.wall_time_min_s,
            self.wall_time_max_s
        )
    }
}

/// The mean and the sample standard deviation (None for fewer than two values).
pub(crate) fn mean_stddev(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (0.0, None);
    }
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, None);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, Some(var.sqrt()))
}

/// One report for the measured runs (in order; at least one): the last run's report, which
/// holds its checks, percentiles and counts (the repetition stops at a run that fails its
/// checks, so a failure is always the last one), with the wall time, efficiency and
/// throughput of the mean, and the spread beside them.
pub(crate) fn combine(mut measured: Vec<Report>, warmup_runs: u32) -> Report {
    let walls: Vec<f64> = measured.iter().map(|r| r.wall_time_s).collect();
    let effs: Vec<f64> = measured.iter().map(|r| r.efficiency).collect();
    // The bound each run was measured against (a real handler's differs from run to run).
    let bounds: Vec<f64> = measured
        .iter()
        .map(|r| r.efficiency * r.wall_time_s)
        .collect();
    let (mean, stddev) = mean_stddev(&walls);
    let (bound, _) = mean_stddev(&bounds);
    let fold = |xs: &[f64], f: fn(f64, f64) -> f64, start: f64| xs.iter().copied().fold(start, f);
    let mut r = measured.pop().expect("at least one measured run");
    let ran = r.events - r.unprocessed;
    r.efficiency = if mean > 0.0 { bound / mean } else { 1.0 };
    r.throughput_eps = if mean > 0.0 { ran as f64 / mean } else { 0.0 };
    r.wall_time_s = mean;
    r.repeats = Some(Repeats {
        warmup_runs,
        wall_time_mean_s: mean,
        wall_time_stddev_s: stddev,
        wall_time_min_s: fold(&walls, f64::min, f64::INFINITY),
        wall_time_max_s: fold(&walls, f64::max, f64::NEG_INFINITY),
        efficiency_min: fold(&effs, f64::min, f64::INFINITY),
        efficiency_max: fold(&effs, f64::max, f64::NEG_INFINITY),
        wall_times_s: walls,
    });
    r
}

/// Why a measured run stands out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Why {
    /// More than 3 σ from the median, σ = 1.4826 × the median absolute deviation (a sample σ
    /// would include the outlier: with 5 runs no run can be more than 2.24 of them from the
    /// median). `sigmas` is None when the other runs agree exactly (no deviation at all).
    FarFromMedian { median_s: f64, sigmas: Option<f64> },
    /// The first measured run took more than 1.5 × the median of the others.
    ColdStart { median_rest_s: f64 },
}

/// A measured run that stands out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Outlier {
    /// 1 for the first measured run.
    pub run: usize,
    pub wall_s: f64,
    pub why: Why,
}

/// How far a run must be to stand out: 3 σ, and at least 5% of the median (runs often agree
/// within 0.3%, so a run 2% off on a busy machine is many σ away and says nothing); a first
/// run 1.5 × the others'.
const SIGMAS: f64 = 3.0;
const MIN_SHARE: f64 = 0.05;
const COLD: f64 = 1.5;

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The measured runs that stand out, in run order; one entry per run at most (a cold first
/// run is named as such).
pub(crate) fn outliers(walls: &[f64]) -> Vec<Outlier> {
    let mut out = Vec::new();
    if let [first, rest @ ..] = walls {
        let m = median(rest);
        if !rest.is_empty() && m > 0.0 && *first > COLD * m {
            out.push(Outlier {
                run: 1,
                wall_s: *first,
                why: Why::ColdStart { median_rest_s: m },
            });
        }
    }
    if walls.len() < 3 {
        return out;
    }
    let m = median(walls);
    let deviations: Vec<f64> = walls.iter().map(|w| (w - m).abs()).collect();
    let sigma = 1.4826 * median(&deviations);
    for (i, (&w, &d)) in walls.iter().zip(&deviations).enumerate() {
        let far = d > MIN_SHARE * m && (sigma == 0.0 || d > SIGMAS * sigma);
        if far && !out.iter().any(|o| o.run == i + 1) {
            out.push(Outlier {
                run: i + 1,
                wall_s: w,
                why: Why::FarFromMedian {
                    median_s: m,
                    sigmas: (sigma > 0.0).then(|| d / sigma),
                },
            });
        }
    }
    out
}

/// The stderr warnings for a repeated report's outliers: `warning: run 1 of optimal, 100
/// workers, real clock took 0.930 s, 3.4 σ from the median (0.512 s): …; try --warmup`.
pub(crate) fn outlier_warnings(r: &Report) -> Vec<String> {
    let Some(x) = &r.repeats else {
        return Vec::new();
    };
    let label = super::sweep::run_label(r);
    let more = if x.warmup_runs > 0 { "a larger " } else { "" };
    outliers(&x.wall_times_s)
        .into_iter()
        .map(|o| {
            let (how, cause) = match o.why {
                Why::FarFromMedian { median_s, sigmas } => {
                    let far = match sigmas {
                        Some(k) => format!("{k:.1} σ"),
                        None => format!("{:+.1}%", (o.wall_s / median_s - 1.0) * 100.0),
                    };
                    // A cold cache slows a run down; a fast outlier means the others were slowed.
                    let cause = if o.wall_s < median_s {
                        "a noisy machine; try more --runs"
                    } else {
                        "a noisy machine or a cold cache; try {more}--warmup"
                    };
                    (format!("{far} from the median ({median_s:.3} s)"), cause)
                }
                Why::ColdStart { median_rest_s } => (
                    format!(
                        "{:.2}× the median of the others ({median_rest_s:.3} s)",
                        o.wall_s / median_rest_s
                    ),
                    "a cold cache; try {more}--warmup",
                ),
            };
            format!(
                "warning: run {} of {label} took {:.3} s, {how}: {}",
                o.run,
                o.wall_s,
                cause.replace("{more}", more)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Strategy;
    use crate::report::fixture::report;

    #[test]
    fn sample_stddev_divides_by_n_minus_one() {
        let (mean, sd) = mean_stddev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean, 5.0);
        assert!((sd.unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_stddev(&[3.0]), (3.0, None));
    }

    #[test]
    fn the_mean_decides_wall_time_and_efficiency() {
        let runs = vec![
            report(Strategy::Optimal, "auto", 8.0, 10.0),
            report(Strategy::Optimal, "auto", 8.0, 8.0),
            report(Strategy::Optimal, "auto", 8.0, 12.0),
        ];
        let r = combine(runs, 1);
        let x = r.repeats.clone().unwrap();
        assert_eq!(x.wall_times_s, vec![10.0, 8.0, 12.0]);
        assert_eq!((r.wall_time_s, x.wall_time_mean_s), (10.0, 10.0));
        assert_eq!(x.wall_time_stddev_s, Some(2.0));
        assert_eq!((x.wall_time_min_s, x.wall_time_max_s), (8.0, 12.0));
        assert!((r.efficiency - 0.8).abs() < 1e-12);
        assert!((x.efficiency_min - 8.0 / 12.0).abs() < 1e-12 && x.efficiency_max == 1.0);
        assert_eq!(r.throughput_eps, 2.0);
        assert_eq!(x.warmup_runs, 1);
        assert!(x
            .describe()
            .starts_with("10.000 s ± 2.000 s (mean of 3 runs after 1 warmup"));
    }

    #[test]
    fn a_run_far_from_the_median_is_named() {
        // Median 1.00, deviations 0.01 0.01 0 0.01 0.5 → MAD 0.01, σ 0.0148: run 5 is 33.7 σ.
        let o = outliers(&[0.99, 1.01, 1.0, 0.99, 1.5]);
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!((o[0].run, o[0].wall_s), (5, 1.5));
        let Why::FarFromMedian { median_s, sigmas } = o[0].why else {
            panic!("{o:?}")
        };
        assert_eq!(median_s, 1.0);
        assert!((sigmas.unwrap() - 0.5 / (1.4826 * 0.01)).abs() < 1e-9);
        // An ordinary spread names nobody; nor does 3 σ that is under 1% of the median.
        assert!(outliers(&[0.98, 1.01, 1.0, 0.99, 1.02]).is_empty());
        assert!(outliers(&[1.0, 1.0001, 1.0, 0.9999, 1.008]).is_empty());
        // Fewer than 3 runs have no median worth the name; other runs agreeing exactly do.
        assert!(outliers(&[1.0, 1.2]).is_empty());
        let o = outliers(&[1.0, 1.0, 1.0, 1.1]);
        assert_eq!(
            o[0].why,
            Why::FarFromMedian {
                median_s: 1.0,
                sigmas: None
            }
        );
    }

    #[test]
    fn a_slow_first_run_is_a_cold_start() {
        // 1.6 > 1.5 × 1.0: named once, as a cold start (it is far from the median too).
        let o = outliers(&[1.6, 1.0, 1.01, 0.99, 1.0]);
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!(o[0].run, 1);
        assert_eq!(o[0].why, Why::ColdStart { median_rest_s: 1.0 });
        // With two runs, the rule still holds; 1.4 × is not 'much slower'.
        assert_eq!(outliers(&[2.0, 1.0]).len(), 1);
        assert!(outliers(&[1.4, 1.0]).is_empty());
    }

    #[test]
    fn the_warning_names_the_run_and_the_cure() {
        let walls = [0.93, 0.5, 0.51, 0.52, 0.5];
        let runs = walls
            .iter()
            .map(|&w| report(Strategy::Optimal, "100", 0.4, w))
            .collect();
        let r = combine(runs, 0);
        assert_eq!(
            outlier_warnings(&r),
            vec![
                "warning: run 1 of optimal, 100 workers, virtual clock took 0.930 s, 1.84× the \
                 median of the others (0.505 s): a cold cache; try --warmup"
            ]
        );
        let mut warmed = r.clone();
        warmed.repeats.as_mut().unwrap().wall_times_s = vec![0.5, 0.51, 0.93, 0.5, 0.52];
        warmed.repeats.as_mut().unwrap().warmup_runs = 1;
        let w = outlier_warnings(&warmed);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with(
                "warning: run 3 of optimal, 100 workers, virtual clock took 0.930 s, "
            ) && w[0].contains(
                " σ from the median (0.510 s): a noisy machine or a cold cache; \
                 try a larger --warmup"
            ),
            "{w:?}"
        );
        assert!(outlier_warnings(&report(Strategy::Optimal, "1", 1.0, 1.0)).is_empty());
        // A fast outlier is not a cold cache.
        warmed.repeats.as_mut().unwrap().wall_times_s = vec![0.5, 0.51, 0.3, 0.5, 0.52];
        let w = outlier_warnings(&warmed);
        assert!(w[0].ends_with("a noisy machine; try more --runs"), "{w:?}");
        // The closing figures of issue 27: 1.7% off is not worth a warning.
        assert!(outliers(&[2.682, 2.630, 2.618, 2.636, 2.642]).is_empty());
    }
}
