//! Timestamps in another system's log: strftime formats (parsed with `jiff`), ISO 8601, or unix
//! numbers in seconds, milliseconds or microseconds; all become microseconds.

use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::TimeZone;
use std::str::FromStr;

/// How the log writes its times (`--time-format`).
#[derive(Clone, Debug)]
pub enum TimeFormat {
    /// Unix numbers (unit by magnitude: s, ms, µs or ns; fractions allowed) or ISO 8601.
    Auto,
    /// Unix seconds, possibly fractional.
    UnixSeconds,
    UnixMillis,
    UnixMicros,
    /// A strftime-style format such as `%d.%m.%Y %H:%M:%S%.f %z`. Without a zone in the
    /// text, times are local to the system time zone (set `TZ` to override).
    Strftime(String),
}

impl FromStr for TimeFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(TimeFormat::Auto),
            "unix" | "unix-s" => Ok(TimeFormat::UnixSeconds),
            "unix-ms" => Ok(TimeFormat::UnixMillis),
            "unix-us" => Ok(TimeFormat::UnixMicros),
            f if f.contains('%') => Ok(TimeFormat::Strftime(f.to_string())),
            f => Err(format!(
                "'{f}' is not a time format: give a strftime format such as \
                 '%d.%m.%Y %H:%M:%S', or auto, unix, unix-ms, unix-us"
            )),
        }
    }
}

/// Parses one log's times; remembers the last text, since consecutive lines of a log with
/// whole-second times mostly repeat it.
pub(crate) struct TimeParser {
    format: TimeFormat,
    zone: Option<TimeZone>,
    last: Option<(String, i64)>,
}

impl TimeParser {
    pub(crate) fn new(format: TimeFormat) -> Self {
        TimeParser {
            format,
            zone: None,
            last: None,
        }
    }

    /// The time in microseconds (since the unix epoch, or since whatever origin the log uses
    /// for plain numbers).
    pub(crate) fn parse(&mut self, text: &str) -> Result<i64, String> {
        let text = text.trim();
        if let Some((t, us)) = &self.last {
            if t == text {
                return Ok(*us);
            }
        }
        let us = match &self.format {
            TimeFormat::Auto => match unix_number(text, None) {
                Ok(us) => us,
                Err(e) if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') => return Err(e),
                Err(_) => self.iso(text)?,
            },
            TimeFormat::UnixSeconds => unix_number(text, Some(1_000_000))?,
            TimeFormat::UnixMillis => unix_number(text, Some(1_000))?,
            TimeFormat::UnixMicros => unix_number(text, Some(1))?,
            TimeFormat::Strftime(f) => {
                let f = f.clone();
                self.strftime(&f, text)?
            }
        };
        match &mut self.last {
            Some((t, v)) => {
                t.clear();
                t.push_str(text);
                *v = us;
            }
            None => self.last = Some((text.to_string(), us)),
        }
        Ok(us)
    }

    fn zone(&mut self) -> TimeZone {
        self.zone
            .get_or_insert_with(|| TimeZone::try_system().unwrap_or(TimeZone::UTC))
            .clone()
    }

    fn iso(&mut self, text: &str) -> Result<i64, String> {
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Ok(ts.as_microsecond());
        }
        let dt: jiff::civil::DateTime = text.parse().map_err(|_| {
            format!("cannot read time '{text}': not a unix number nor ISO 8601; give --time-format")
        })?;
        let ts = self
            .zone()
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(|e| format!("time '{text}': {e}"))?;
        Ok(ts.as_microsecond())
    }

    fn strftime(&mut self, format: &str, text: &str) -> Result<i64, String> {
        let tm = BrokenDownTime::parse(format, text)
            .map_err(|e| format!("time '{text}' does not match --time-format '{format}': {e}"))?;
        let ts = if tm.offset().is_some() {
            tm.to_timestamp()
        } else {
            let dt = tm
                .to_datetime()
                .map_err(|e| format!("time '{text}': {e}"))?;
            self.zone().to_ambiguous_timestamp(dt).compatible()
        };
        ts.map(|t| t.as_microsecond())
            .map_err(|e| format!("time '{text}': {e}"))
    }
}

/// A unix number: `unit` µs per unit, or (None) the unit guessed from the magnitude of the
/// whole part: up to 1e11 seconds (year 5138), then ms, µs, ns.
fn unix_number(text: &str, unit: Option<i64>) -> Result<i64, String> {
    let bad = || format!("'{text}' is not a time (expected a non-negative number)");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(frac) {
        return Err(bad());
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let unit = unit.unwrap_or(match w {
        0..100_000_000_000 => 1_000_000,
        100_000_000_000..100_000_000_000_000 => 1_000,
        100_000_000_000_000..100_000_000_000_000_000 => 1,
        _ => return Ok(w / 1_000),
    });
    // The fraction's digits below one microsecond are dropped (truncated like the log's own
    // rounding down).
    let mut frac_us = 0i64;
    let mut scale = unit;
    for d in frac.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        frac_us += i64::from(d - b'0') * scale;
    }
    w.checked_mul(unit)
        .and_then(|v| v.checked_add(frac_us))
        .ok_or_else(bad)
}

/// The coarsest step all of a log's times are multiples of: 1 min, 1 s, 100 ms … 1 µs.
#[derive(Clone, Copy, Debug)]
pub struct Resolution {
    step: usize,
}

impl Resolution {
    const LADDER: [u64; 9] = [60_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1, 1];

    /// Starts at the coarsest step; each time seen may make it finer.
    pub fn coarsest() -> Self {
        Resolution { step: 0 }
    }

    /// Exact microseconds (our own log).
    pub fn exact() -> Self {
        Resolution { step: 7 }
    }

    pub fn see(&mut self, us: i64) {
        let v = us.unsigned_abs();
        while v % Self::LADDER[self.step] != 0 {
            self.step += 1;
        }
    }

    /// The coarser of two resolutions (of two logs judged together).
    pub fn coarser(self, other: Resolution) -> Resolution {
        Resolution {
            step: self.step.min(other.step),
        }
    }

    pub fn micros(self) -> u64 {
        Self::LADDER[self.step]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(s: &str) -> Result<i64, String> {
        TimeParser::new(TimeFormat::Auto).parse(s)
    }

    #[test]
    fn unix_numbers_by_magnitude() {
        assert_eq!(auto("1764299645").unwrap(), 1_764_299_645_000_000);
        assert_eq!(auto("1764299645.25").unwrap(), 1_764_299_645_250_000);
        assert_eq!(auto("1764299645123").unwrap(), 1_764_299_645_123_000);
        assert_eq!(auto("1764299645123456").unwrap(), 1_764_299_645_123_456);
        assert_eq!(auto("12.5").unwrap(), 12_500_000);
        assert!(auto("-3").is_err());
        assert!(auto("1.2.3").is_err());
    }

    #[test]
    fn forced_units() {
        let mut p = TimeParser::new(TimeFormat::UnixMillis);
        assert_eq!(p.parse("1500").unwrap(), 1_500_000);
        assert_eq!(p.parse("1.5").unwrap(), 1_500);
    }

    #[test]
    fn iso_8601_with_and_without_zone() {
        assert_eq!(
            auto("2026-11-28T03:14:05.5Z").unwrap(),
            1_795_835_645_500_000
        );
        assert_eq!(
            auto("2026-11-28T04:14:05+01:00").unwrap(),
            1_795_835_645_000_000
        );
    }

    #[test]
    fn strftime_with_fraction_and_zone() {
        let f = "%d.%m.%Y %H:%M:%S%.f %z".parse().unwrap();
        let mut p = TimeParser::new(f);
        assert_eq!(
            p.parse("28.11.2026 03:14:05.250 +0000").unwrap(),
            1_795_835_645_250_000
        );
        // Cached text gives the same value.
        assert_eq!(
            p.parse("28.11.2026 03:14:05.250 +0000").unwrap(),
            1_795_835_645_250_000
        );
        assert!(p.parse("yesterday").unwrap_err().contains("does not match"));
        assert!("dd.mm.yyyy".parse::<TimeFormat>().is_err());
    }

    #[test]
    fn resolution_follows_the_finest_time() {
        let mut r = Resolution::coarsest();
        r.see(1_795_835_645_000_000);
        assert_eq!(r.micros(), 1_000_000);
        r.see(1_795_835_645_250_000);
        assert_eq!(r.micros(), 10_000);
        r.see(7);
        assert_eq!(r.micros(), 1);
    }
}
