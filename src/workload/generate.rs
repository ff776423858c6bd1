//! Seeded random workloads: the account and duration distributions, the CSV writer behind
//! `eventbench generate`, and the built-in workload that `run` uses when given no input.
//!
//! Everything is driven by one `ChaCha8Rng` seeded with `seed_from_u64`, whose output is fixed
//! across platforms and crate versions, so a seed names a workload as precisely as a file does.

use super::{Durations, Source, Workload};
use crate::types::{parse_duration, AccountId, EventId, Micros};
use rand::distr::{Bernoulli, Distribution as _, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// Seed of the built-in workload. It equals the seed in the `--help` examples, so
/// `eventbench generate --seed 7` writes the built-in workload to a file.
pub const BUILTIN_SEED: u64 = 7;

const DISTRIBUTION_FORMS: &str =
    "expected uniform, zipf:S (S > 0, e.g. zipf:1.2) or hot:P (0 <= P <= 1, e.g. hot:0.5)";
const DURATION_FORMS: &str =
    "expected uniform:LO..HI (e.g. uniform:0ms..5ms, bounds inclusive) or exp:MEAN (e.g. exp:2ms)";

/// How events are spread over the accounts `1..=max_account_id`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Every account equally likely.
    Uniform,
    /// Zipf with exponent `s`: account 1 is the most frequent, account k has weight `1 / k^s`.
    Zipf(f64),
    /// Account 1 gets each event with probability `p`; the rest spread evenly over the others.
    Hot(f64),
}

impl FromStr for Distribution {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (kind, arg) = match t.split_once(':') {
            Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (t.to_ascii_lowercase(), None),
        };
        // No echo of the input: clap already prints "invalid value '<input>' for '--distribution'".
        let bad = |why: &str| format!("{why}; {DISTRIBUTION_FORMS}");
        match (kind.as_str(), arg) {
            ("uniform", None) => Ok(Distribution::Uniform),
            ("zipf", Some(a)) => match a.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Distribution::Zipf(v)),
                Ok(_) => Err(bad("the zipf exponent must be a finite number above 0")),
                Err(_) => Err(bad(&format!("'{a}' is not a number"))),
            },
            ("hot", Some(a)) => match a.parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Ok(Distribution::Hot(v)),
                Ok(_) => Err(bad("the hot-account probability must be between 0 and 1")),
                Err(_) => Err(bad(&format!("'{a}' is not a number"))),
            },
            ("uniform", Some(_)) => Err(bad("uniform takes no parameter")),
            ("zipf" | "hot", None) => Err(bad(&format!("{kind} needs a parameter"))),
            _ => Err(bad(&format!("unknown distribution '{t}'"))),
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{}` on f64 prints the shortest form that parses back to the same value.
        match self {
            Distribution::Uniform => write!(f, "uniform"),
            Distribution::Zipf(s) => write!(f, "zipf:{s}"),
            Distribution::Hot(p) => write!(f, "hot:{p}"),
        }
    }
}

/// How long each generated event takes (the `duration_us` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationDist {
    /// Uniform over whole microseconds in `lo..=hi`.
    Uniform { lo: Micros, hi: Micros },
    /// Exponential with the given mean, rounded to whole microseconds.
    Exp { mean: Micros },
}

impl FromStr for DurationDist {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("{why}; {DURATION_FORMS}");
        let dur = |v: &str| {
            parse_duration(v)
                .map(Micros::from_duration)
                .map_err(|e| bad(&e))
        };
        let t = s.trim();
        let Some((kind, arg)) = t.split_once(':') else {
            return Err(bad(&format!("'{t}' has no ':'")));
        };
        match kind.trim().to_ascii_lowercase().as_str() {
            "uniform" => {
                let Some((lo, hi)) = arg.split_once("..") else {
                    return Err(bad("the range needs two bounds separated by '..'"));
                };
                let (lo, hi) = (dur(lo)?, dur(hi)?);
                if lo > hi {
                    return Err(bad("the lower bound is above the upper bound"));
                }
                Ok(DurationDist::Uniform { lo, hi })
            }
            "exp" => Ok(DurationDist::Exp { mean: dur(arg)? }),
            _ => Err(bad(&format!("unknown duration distribution '{t}'"))),
        }
    }
}

/// Formats a duration exactly, in the largest unit that divides it, so parsing it back is lossless.
fn exact(d: Micros) -> String {
    match d.0 {
        0 => "0ms".to_owned(),
        us if us % 1_000_000 == 0 => format!("{}s", us / 1_000_000),
        us if us % 1_000 == 0 => format!("{}ms", us / 1_000),
        us => format!("{us}us"),
    }
}

impl fmt::Display for DurationDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationDist::Uniform { lo, hi } => write!(f, "uniform:{}..{}", exact(*lo), exact(*hi)),
            DurationDist::Exp { mean } => write!(f, "exp:{}", exact(*mean)),
        }
    }
}

/// Everything that determines a generated workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub events: u64,
    pub max_account_id: u64,
    pub seed: u64,
    pub distribution: Distribution,
    pub duration: Option<DurationDist>,
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events, accounts 1..={} ({}), seed {}",
            self.events, self.max_account_id, self.distribution, self.seed
        )?;
        if let Some(d) = &self.duration {
            write!(f, ", durations {d}")?;
        }
        Ok(())
    }
}

/// The workload `run` uses without an input: 10,000 events over accounts 1..=1000, as in the
/// original problem statement.
pub fn builtin_spec() -> Spec {
    Spec {
        events: 10_000,
        max_account_id: 1_000,
        seed: BUILTIN_SEED,
        distribution: Distribution::Uniform,
        duration: None,
    }
}

enum AccountSampler {
    Uniform(Uniform<u64>),
    Zipf(rand_distr::Zipf<f64>, u64),
    Hot(Bernoulli, Option<Uniform<u64>>),
}

impl AccountSampler {
    fn new(dist: Distribution, max: u64) -> Self {
        assert!(max >= 1, "max_account_id must be at least 1");
        match dist {
            Distribution::Uniform => AccountSampler::Uniform(uniform(1, max)),
            Distribution::Zipf(s) => {
                assert!(s.is_finite() && s > 0.0, "zipf exponent {s} out of range");
                let zipf = rand_distr::Zipf::new(max as f64, s).expect("valid zipf parameters");
                AccountSampler::Zipf(zipf, max)
            }
            Distribution::Hot(p) => {
                let hot = Bernoulli::new(p).expect("hot probability within 0..=1");
                AccountSampler::Hot(hot, (max >= 2).then(|| uniform(2, max)))
            }
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            AccountSampler::Uniform(u) => u.sample(rng),
            AccountSampler::Zipf(z, max) => (z.sample(rng) as u64).clamp(1, *max),
            AccountSampler::Hot(hot, rest) => match rest {
                Some(rest) if !hot.sample(rng) => rest.sample(rng),
                _ => 1,
            },
        }
    }
}

fn uniform(lo: u64, hi: u64) -> Uniform<u64> {
    Uniform::new_inclusive(lo, hi).expect("range bounds in order (lo <= hi)")
}

enum DurationSampler {
    Uniform(Uniform<u64>),
    Exp(f64),
}

impl DurationSampler {
    fn new(dist: DurationDist) -> Self {
        match dist {
            DurationDist::Uniform { lo, hi } => DurationSampler::Uniform(uniform(lo.0, hi.0)),
            DurationDist::Exp { mean } => DurationSampler::Exp(mean.0 as f64),
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> Micros {
        match self {
            DurationSampler::Uniform(u) => Micros(u.sample(rng)),
            // Scaling a unit exponential keeps a zero mean legal (every duration is then 0);
            // `as u64` saturates, so a huge draw cannot wrap.
            DurationSampler::Exp(mean) => {
                let x: f64 = rand_distr::Exp1.sample(rng);
                Micros((x * mean).round() as u64)
            }
        }
    }
}

/// The generator state behind [`events`].
struct Events {
    rng: ChaCha8Rng,
    accounts: AccountSampler,
    durations: Option<DurationSampler>,
    next: u64,
    last: u64,
}

impl Iterator for Events {
    type Item = (EventId, AccountId, Option<Micros>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.last {
            return None;
        }
        let id = EventId(self.next);
        self.next += 1;
        // The account is drawn before the duration; changing this order changes every file.
        let account = AccountId(self.accounts.sample(&mut self.rng));
        let duration = self.durations.as_ref().map(|d| d.sample(&mut self.rng));
        Some((id, account, duration))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.last + 1).saturating_sub(self.next);
        let n = usize::try_from(left).unwrap_or(usize::MAX);
        (n, usize::try_from(left).ok())
    }
}

/// The events of `spec` in arrival order: ids `1..=events`, accounts in `1..=max_account_id`,
/// and a duration for each event when `spec.duration` is set.
///
/// Panics when `max_account_id` is 0 or a distribution parameter is out of range; parsed
/// values never are, so callers validate only `max_account_id`.
pub fn events(spec: &Spec) -> impl Iterator<Item = (EventId, AccountId, Option<Micros>)> {
    Events {
        rng: ChaCha8Rng::seed_from_u64(spec.seed),
        accounts: AccountSampler::new(spec.distribution, spec.max_account_id),
        durations: spec.duration.map(DurationSampler::new),
        next: 1,
        last: spec.events,
    }
}

/// Writes `spec` as an events CSV; the same spec always produces the same bytes.
///
/// Panics like [`events`].
pub fn write_csv<W: Write>(spec: &Spec, mut w: W) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 16;
    // Rows are formatted into one buffer and handed over in large chunks: per-field writes
    // into a `BufWriter` (or a line-buffered stdout) would dominate the cost.
    let mut buf = Vec::with_capacity(CHUNK + 64);
    buf.extend_from_slice(match spec.duration {
        Some(_) => b"event_id,account_id,duration_us\n".as_slice(),
        None => b"event_id,account_id\n".as_slice(),
    });
    let mut num = itoa::Buffer::new();
    for (id, account, duration) in events(spec) {
        buf.extend_from_slice(num.format(id.0).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(num.format(account.0).as_bytes());
        if let Some(d) = duration {
            buf.push(b',');
            buf.extend_from_slice(num.format(d.0).as_bytes());
        }
        buf.push(b'\n');
        if buf.len() >= CHUNK {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()
}

/// Builds the workload of `spec` in memory, exactly as loading its CSV would.
///
/// Panics like [`events`], and when `spec.events` exceeds what a [`Workload`] can index
/// (2^32 events).
pub fn build(spec: &Spec, process_time: Micros) -> Workload {
    let source = if *spec == builtin_spec() {
        Source::Builtin { seed: spec.seed }
    } else {
        Source::Live(format!("generated: {spec}"))
    };
    let durations = match spec.duration {
        Some(_) => Durations::PerEvent(Vec::new()),
        None => Durations::Fixed(process_time),
    };
    let mut w = Workload::with_durations(source, durations);
    w.reserve(usize::try_from(spec.events).unwrap_or(usize::MAX));
    for (id, account, duration) in events(spec) {
        w.push(id, account, duration);
    }
    w
}

#[cfg(test)]
mod tests;
