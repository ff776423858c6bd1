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
mod tests {
    use super::*;

    fn spec(events: u64, max: u64, distribution: Distribution) -> Spec {
        Spec {
            events,
            max_account_id: max,
            seed: 12_345,
            distribution,
            duration: None,
        }
    }

    fn csv_bytes(spec: &Spec) -> Vec<u8> {
        let mut out = Vec::new();
        write_csv(spec, &mut out).unwrap();
        out
    }

    /// Events per account, indexed by account id (index 0 unused).
    fn counts(spec: &Spec) -> Vec<u64> {
        let mut c = vec![0u64; spec.max_account_id as usize + 1];
        for (_, a, _) in events(spec) {
            c[a.0 as usize] += 1;
        }
        c
    }

    #[test]
    fn distributions_parse_and_display_round_trip() {
        for text in [
            "uniform", "zipf:1.2", "zipf:1", "zipf:0.5", "hot:0.5", "hot:0", "hot:1",
        ] {
            let d: Distribution = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(d.to_string().parse::<Distribution>().unwrap(), d);
        }
        assert_eq!(
            " ZIPF:2 ".parse::<Distribution>().unwrap(),
            Distribution::Zipf(2.0)
        );
    }

    #[test]
    fn bad_distributions_explain_the_valid_forms() {
        for text in [
            "zipf:abc",
            "zipf:0",
            "zipf:-1",
            "zipf:inf",
            "zipf:NaN",
            "zipf",
            "hot:1.5",
            "hot:-0.1",
            "hot",
            "uniform:3",
            "normal",
            "",
        ] {
            let err = text.parse::<Distribution>().unwrap_err();
            assert!(err.contains("expected uniform, zipf:S"), "{text}: {err}");
        }
        assert!("zipf:abc"
            .parse::<Distribution>()
            .unwrap_err()
            .contains("'abc' is not a number"));
        assert!("hot:2"
            .parse::<Distribution>()
            .unwrap_err()
            .contains("between 0 and 1"));
    }

    #[test]
    fn duration_distributions_parse_and_display_round_trip() {
        let u: DurationDist = "uniform:0ms..5ms".parse().unwrap();
        assert_eq!(
            u,
            DurationDist::Uniform {
                lo: Micros(0),
                hi: Micros(5_000)
            }
        );
        for text in [
            "uniform:0ms..5ms",
            "uniform:1500us..2s",
            "exp:2ms",
            "exp:7us",
            "uniform:3ms..3ms",
        ] {
            let d: DurationDist = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
        }
        let odd: DurationDist = "exp:1.5ms".parse().unwrap();
        assert_eq!(
            odd,
            DurationDist::Exp {
                mean: Micros(1_500)
            }
        );
        assert_eq!(odd.to_string().parse::<DurationDist>().unwrap(), odd);
    }

    #[test]
    fn bad_duration_distributions_explain_the_valid_forms() {
        for text in [
            "uniform:5ms..1ms",
            "uniform:5ms",
            "uniform:..1ms",
            "exp:abc",
            "exp",
            "gauss:1ms",
        ] {
            let err = text.parse::<DurationDist>().unwrap_err();
            assert!(err.contains("expected uniform:LO..HI"), "{text}: {err}");
        }
        let err = "uniform:5ms..1ms".parse::<DurationDist>().unwrap_err();
        assert!(
            err.contains("lower bound is above the upper bound"),
            "{err}"
        );
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_different_seeds_differ() {
        let mut a = spec(5_000, 100, Distribution::Zipf(1.1));
        a.duration = Some(DurationDist::Exp {
            mean: Micros(2_000),
        });
        assert_eq!(csv_bytes(&a), csv_bytes(&a));
        let mut b = a.clone();
        b.seed += 1;
        assert_ne!(csv_bytes(&a), csv_bytes(&b));
    }

    #[test]
    fn a_seed_names_the_same_file_forever() {
        // Pinned output: if this changes, every published seed now means a different file.
        let text = String::from_utf8(csv_bytes(&Spec {
            seed: 1,
            ..builtin_spec()
        }))
        .unwrap();
        assert!(text.starts_with("event_id,account_id\n1,403\n2,81\n3,597\n4,220\n5,284\n"));
    }

    #[test]
    fn csv_has_the_header_and_one_row_per_event() {
        let text = String::from_utf8(csv_bytes(&spec(3, 1, Distribution::Uniform))).unwrap();
        assert_eq!(text, "event_id,account_id\n1,1\n2,1\n3,1\n");
        let mut with = spec(2, 1, Distribution::Uniform);
        with.duration = Some(DurationDist::Uniform {
            lo: Micros(4),
            hi: Micros(4),
        });
        let text = String::from_utf8(csv_bytes(&with)).unwrap();
        assert_eq!(text, "event_id,account_id,duration_us\n1,1,4\n2,1,4\n");
        assert_eq!(
            csv_bytes(&spec(0, 5, Distribution::Uniform)),
            b"event_id,account_id\n"
        );
    }

    #[test]
    fn ids_run_from_one_and_accounts_stay_in_range() {
        for dist in [
            Distribution::Uniform,
            Distribution::Zipf(1.2),
            Distribution::Hot(0.3),
        ] {
            for max in [1, 2, 7, 1_000] {
                let s = spec(2_000, max, dist);
                let mut n = 0;
                for (i, (id, account, d)) in events(&s).enumerate() {
                    assert_eq!(id, EventId(i as u64 + 1));
                    assert!(
                        (1..=max).contains(&account.0),
                        "{dist} max {max}: {account:?}"
                    );
                    assert_eq!(d, None);
                    n += 1;
                }
                assert_eq!(n, 2_000);
            }
        }
    }

    #[test]
    fn uniform_is_roughly_flat() {
        let s = spec(100_000, 100, Distribution::Uniform);
        let c = counts(&s);
        let expected = 1_000.0;
        let chi2: f64 = c[1..]
            .iter()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum();
        // 99 degrees of freedom: mean 99, standard deviation 14; 200 is far out in the tail.
        assert!(chi2 < 200.0, "chi-square {chi2}");
        assert!(c[1..].iter().all(|&n| n > 800 && n < 1_200), "{c:?}");
    }

    #[test]
    fn zipf_puts_account_one_first_and_decreases_with_rank() {
        let s = spec(200_000, 50, Distribution::Zipf(1.2));
        let c = counts(&s);
        let top = *c.iter().max().unwrap();
        assert_eq!(c[1], top);
        // Weight ratio of ranks 1 and 2 is 2^1.2 = 2.3.
        let ratio = c[1] as f64 / c[2] as f64;
        assert!((2.0..2.6).contains(&ratio), "ratio {ratio}");
        let blocks: Vec<u64> = c[1..].chunks(10).map(|b| b.iter().sum()).collect();
        assert!(blocks.windows(2).all(|w| w[0] > w[1]), "{blocks:?}");
    }

    #[test]
    fn hot_gives_account_one_its_share() {
        let s = spec(100_000, 1_000, Distribution::Hot(0.5));
        let c = counts(&s);
        let share = c[1] as f64 / 100_000.0;
        assert!((0.49..0.51).contains(&share), "share {share}");
        let rest = c[2..].iter().copied().max().unwrap();
        assert!(
            rest < 120,
            "the other accounts should be spread evenly, max {rest}"
        );
        assert_eq!(counts(&spec(50, 1, Distribution::Hot(0.1)))[1], 50);
        assert_eq!(counts(&spec(1_000, 10, Distribution::Hot(0.0)))[1], 0);
    }

    #[test]
    fn durations_stay_within_bounds_and_follow_the_mean() {
        let mut s = spec(100_000, 10, Distribution::Uniform);
        s.duration = Some(DurationDist::Uniform {
            lo: Micros(0),
            hi: Micros(5_000),
        });
        let d: Vec<u64> = events(&s).map(|(_, _, d)| d.unwrap().0).collect();
        assert!(d.iter().all(|&x| x <= 5_000));
        assert!(
            d.contains(&0) && d.contains(&5_000),
            "both bounds are inclusive"
        );
        s.duration = Some(DurationDist::Exp {
            mean: Micros(2_000),
        });
        let d: Vec<u64> = events(&s).map(|(_, _, d)| d.unwrap().0).collect();
        let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
        assert!((mean - 2_000.0).abs() < 40.0, "mean {mean}");
        s.duration = Some(DurationDist::Exp { mean: Micros(0) });
        assert!(events(&s).all(|(_, _, d)| d == Some(Micros(0))));
    }

    #[test]
    fn build_matches_the_csv_and_names_its_source() {
        let w = build(&builtin_spec(), Micros(1_000_000));
        assert_eq!(w.source(), &Source::Builtin { seed: BUILTIN_SEED });
        assert_eq!(w.len(), 10_000);
        assert_eq!(w.shape().uniform, Some(Micros(1_000_000)));

        let mut s = spec(500, 20, Distribution::Zipf(1.0));
        s.duration = Some(DurationDist::Uniform {
            lo: Micros(1),
            hi: Micros(9),
        });
        let built = build(&s, Micros(1));
        assert!(
            matches!(built.source(), Source::Live(what) if what.starts_with("generated: 500 events"))
        );
        let bytes = csv_bytes(&s);
        let loaded =
            crate::workload::csv::load_reader(&bytes[..], std::path::Path::new("g.csv"), Micros(1))
                .unwrap();
        assert_eq!(built.len(), loaded.len());
        assert_eq!(built.durations(), loaded.durations());
        for e in built.indexes() {
            assert_eq!(built.event_id(e), loaded.event_id(e));
            assert_eq!(
                built.account_id(built.account_of(e)),
                loaded.account_id(loaded.account_of(e))
            );
        }
    }
}
