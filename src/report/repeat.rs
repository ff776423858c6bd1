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
}
