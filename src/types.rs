//! Newtypes for the ids and times that every module passes around.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// An event's id as it appears in the input (unique within a workload).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventId(pub u64);

/// An account's id as it appears in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountId(pub u64);

/// Dense index of an account inside one workload, in order of the account's first event.
///
/// Dense indexes let per-account state live in plain vectors instead of hash maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountIdx(pub u32);

/// Index of an event in arrival order (0 is the first event that entered the queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventIdx(pub u32);

/// Index of the worker (lane) that ran an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LaneId(pub u32);

/// A span of time in whole microseconds: processing times, timestamps since a run's start.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Micros(pub u64);

impl Micros {
    pub const ZERO: Micros = Micros(0);

    /// Saturates at `u64::MAX` µs (585,000 years). Avoids `Duration::as_micros`, whose
    /// 128-bit division showed up in profiles: clocks call this twice per event.
    pub fn from_duration(d: Duration) -> Self {
        let whole = d.as_secs().checked_mul(1_000_000);
        Micros(whole.map_or(u64::MAX, |w| w.saturating_add(u64::from(d.subsec_micros()))))
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    pub fn saturating_add(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Micros) -> Micros {
        Micros(self.0.saturating_sub(other.0))
    }

    /// A long span as people say it: `4.2 s`, `5 min 12 s`, `58 min`, `1 h 3 min`.
    /// Seconds stop mattering past ten minutes, minutes past a day.
    pub fn spelled(self) -> String {
        let s = self.0 / 1_000_000;
        if s < 60 {
            return format!("{:.1} s", self.as_secs_f64());
        }
        // Rounded to the unit shown, not cut: 59 min 50 s is "1 h 0 min", never "59 min".
        let (min, sec) = if s < 600 {
            (s / 60, s % 60)
        } else {
            ((s + 30) / 60, 0)
        };
        match (min / 60, min % 60) {
            (0, m) if sec > 0 => format!("{m} min {sec} s"),
            (0, m) => format!("{m} min"),
            (h, m) if h < 24 => format!("{h} h {m} min"),
            (h, _) => format!("{} d {} h", h / 24, h % 24),
        }
    }
}

/// Seconds for a report: `21.000 s` from one second up, and three significant digits below
/// (`0.00612 s`), so a short run keeps its precision instead of reading `0.006 s`.
pub fn seconds(s: f64) -> String {
    if !(s > 0.0 && s < 1.0) {
        return format!("{s:.3} s");
    }
    let digits = (2 - s.log10().floor() as i32).clamp(3, 9) as usize;
    format!("{s:.digits$} s")
}

impl fmt::Display for Micros {
    /// Human form with the unit that keeps the number short: `950us`, `2.500ms`, `22.004s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us < 1_000 {
            write!(f, "{us}us")
        } else if us < 1_000_000 {
            write!(f, "{:.3}ms", us as f64 / 1e3)
        } else {
            write!(f, "{:.3}s", us as f64 / 1e6)
        }
    }
}

impl std::str::FromStr for Micros {
    type Err = String;

    /// Parses `1s`, `250ms`, `10us`, `1.5s` (humantime syntax, plus decimal seconds/millis).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Micros::from_duration)
    }
}

/// Parses a duration such as `1s`, `250ms`, `10us`, `1m 30s` or `0.5s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration (expected e.g. 1s, 250ms, 10us)".into());
    }
    if let Ok(d) = humantime::parse_duration(t) {
        return Ok(d);
    }
    // humantime has no fractions; accept `0.5s`, `2.5ms`, `1.25us`.
    for (suffix, scale) in [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("s", 1.0)] {
        if let Some(num) = t.strip_suffix(suffix) {
            if let Ok(v) = num.trim().parse::<f64>() {
                if v.is_finite() && v >= 0.0 && v * scale < 1e12 {
                    return Ok(Duration::from_secs_f64(v * scale));
                }
            }
        }
    }
    Err(format!(
        "invalid duration '{s}' (expected e.g. 1s, 250ms, 10us)"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_spans_are_spelled_out() {
        let s = |secs: u64| super::Micros(secs * 1_000_000).spelled();
        assert_eq!(super::Micros(4_200_000).spelled(), "4.2 s");
        assert_eq!(s(312), "5 min 12 s");
        assert_eq!(s(300), "5 min");
        assert_eq!(s(58 * 60 + 10), "58 min");
        assert_eq!(s(3489), "58 min");
        assert_eq!(s(3600 + 3 * 60 + 20), "1 h 3 min");
        assert_eq!(s(3590), "1 h 0 min");
        assert_eq!(s(50 * 3600), "2 d 2 h");
    }

    #[test]
    fn short_seconds_keep_three_significant_digits() {
        assert_eq!(super::seconds(0.006123), "0.00612 s");
        assert_eq!(super::seconds(0.021), "0.0210 s");
        assert_eq!(super::seconds(0.341), "0.341 s");
        assert_eq!(super::seconds(21.0), "21.000 s");
        assert_eq!(super::seconds(0.0), "0.000 s");
    }

    use super::*;

    #[test]
    fn parses_common_durations() {
        assert_eq!("1s".parse::<Micros>().unwrap(), Micros(1_000_000));
        assert_eq!("250ms".parse::<Micros>().unwrap(), Micros(250_000));
        assert_eq!("10us".parse::<Micros>().unwrap(), Micros(10));
        assert_eq!("0.5s".parse::<Micros>().unwrap(), Micros(500_000));
        assert_eq!("2.5ms".parse::<Micros>().unwrap(), Micros(2_500));
        assert!("".parse::<Micros>().is_err());
        assert!("-1s".parse::<Micros>().is_err());
        assert!("fast".parse::<Micros>().is_err());
    }

    #[test]
    fn durations_convert_exactly_and_saturate() {
        assert_eq!(
            Micros::from_duration(Duration::new(3, 999_999_999)),
            Micros(3_999_999)
        );
        assert_eq!(Micros::from_duration(Duration::MAX), Micros(u64::MAX));
    }

    #[test]
    fn displays_with_a_short_unit() {
        assert_eq!(Micros(950).to_string(), "950us");
        assert_eq!(Micros(2_500).to_string(), "2.500ms");
        assert_eq!(Micros(22_004_000).to_string(), "22.004s");
    }
}
