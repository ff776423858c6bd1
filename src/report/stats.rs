//! Latency and overshoot distributions: hdrhistogram percentiles and a small terminal histogram.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Percentiles of a distribution, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// A distribution of microsecond values.
pub struct Distribution {
    hist: Histogram<u64>,
    /// The exact largest value: the histogram would report it rounded up to its precision,
    /// and a maximum latency above the run's wall time would be a false number.
    max: u64,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            // Three significant digits: 0.1% resolution at any magnitude.
            hist: Histogram::new(3).expect("3 significant figures is valid"),
            max: 0,
        }
    }
}

impl Distribution {
    pub fn record(&mut self, us: u64) {
        self.max = self.max.max(us);
        // Auto-resizing histograms only fail past u64 range, which microseconds never reach.
        let _ = self.hist.record(us);
    }

    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    pub fn percentiles(&self) -> Percentiles {
        if self.hist.is_empty() {
            return Percentiles::default();
        }
        // Quantiles are reported at their bucket's upper edge, so never above the exact max.
        let q = |p: f64| self.hist.value_at_quantile(p).min(self.max);
        Percentiles {
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: self.max,
        }
    }

    /// Counts in `buckets` equal-width buckets from min to max: `(upper bound µs, count)`.
    pub fn buckets(&self, buckets: usize) -> Vec<(u64, u64)> {
        if self.hist.is_empty() || buckets == 0 {
            return Vec::new();
        }
        let (lo, hi) = (self.hist.min(), self.max);
        let width = ((hi - lo) / buckets as u64).max(1);
        let mut out: Vec<(u64, u64)> = (1..=buckets as u64).map(|i| (lo + width * i, 0)).collect();
        out.last_mut().expect("buckets > 0").0 = hi;
        for v in self.hist.iter_recorded() {
            let value = self.hist.highest_equivalent(v.value_iterated_to()).min(hi);
            let i = (((value - lo) / width) as usize).min(buckets - 1);
            out[i].1 += v.count_at_value();
        }
        out
    }
}

/// Renders buckets as lines of `label  bar  count`, bars scaled to `width` characters.
pub(crate) fn render_histogram(
    buckets: &[(u64, u64)],
    width: usize,
    unit: impl Fn(u64) -> String,
) -> String {
    let peak = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let mut out = String::new();
    for &(upper, count) in buckets {
        let bar = ((count as f64 / peak as f64) * width as f64).round() as usize;
        let label = format!("≤ {}", unit(upper));
        out.push_str(&format!(
            "  {label:>12} {:<width$} {count}\n",
            "█".repeat(bar.max(usize::from(count > 0)))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut d = Distribution::default();
        for v in 1..=1000 {
            d.record(v);
        }
        let p = d.percentiles();
        assert_eq!(p.p50, 500);
        assert_eq!(p.p99, 990);
        assert_eq!(p.max, 1000);
    }

    #[test]
    fn max_is_exact_not_rounded_up() {
        let mut d = Distribution::default();
        d.record(21_005_625);
        let p = d.percentiles();
        assert_eq!(p.max, 21_005_625);
        assert!(p.p50 <= p.max);
    }

    #[test]
    fn buckets_count_every_value_once() {
        let mut d = Distribution::default();
        for v in [10, 10, 20, 30, 40] {
            d.record(v);
        }
        let b = d.buckets(3);
        assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 5);
        assert_eq!(b.last().unwrap().0, 40);
        let text = render_histogram(&b, 10, |v| format!("{v}us"));
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn empty_distribution_is_all_zero() {
        assert_eq!(
            Distribution::default().percentiles(),
            Percentiles::default()
        );
    }
}
