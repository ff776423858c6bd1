//! The list flags of `compare` (`--workers 10,100,auto`, `--strategies sharded,optimal`),
//! the `--min-efficiency` fraction, and the plans a sweep makes of the two lists.

use crate::engine::{Plan, Strategy, Workers};
use std::fmt;
use std::str::FromStr;

/// A non-empty list of distinct worker counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerList(pub Vec<Workers>);

/// A non-empty list of distinct strategies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategyList(pub Vec<Strategy>);

/// Splits `a,b,c`, parses each item, and rejects an empty list or an item given twice.
fn parse_list<T: FromStr<Err = String> + PartialEq + fmt::Display>(
    s: &str,
    what: &str,
) -> Result<Vec<T>, String> {
    let mut out: Vec<T> = Vec::new();
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("empty item in the {what} list '{s}'"));
        }
        let v: T = item.parse()?;
        if out.contains(&v) {
            return Err(format!("{what} '{v}' is listed twice"));
        }
        out.push(v);
    }
    Ok(out)
}

impl FromStr for WorkerList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_list(s, "workers").map(WorkerList)
    }
}

impl FromStr for StrategyList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_list(s, "strategy").map(StrategyList)
    }
}

/// A fraction in (0, 1], e.g. an efficiency floor: `0.9` or `90%`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fraction(pub f64);

impl FromStr for Fraction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v = crate::report::baseline::parse_share(s, "fraction", "0.9 or 90%")?;
        if v <= 0.0 {
            return Err(format!("invalid fraction '{s}': must be above 0"));
        }
        Ok(Fraction(v))
    }
}

/// The runs of a sweep, strategy by strategy; `per-account` once, with `auto`.
pub(crate) fn sweep_plans(strategies: &StrategyList, workers: &WorkerList) -> Vec<Plan> {
    let mut plans = Vec::new();
    for &s in &strategies.0 {
        if s == Strategy::PerAccount {
            plans.extend(Plan::new(s, Workers::Auto));
            continue;
        }
        plans.extend(workers.0.iter().filter_map(|&w| Plan::new(s, w).ok()));
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_into_validated_values() {
        let w: WorkerList = "10, 100,auto".parse().unwrap();
        assert_eq!(w.0.len(), 3);
        assert!("".parse::<WorkerList>().is_err());
        assert!("10,,20".parse::<WorkerList>().is_err());
        assert!("0"
            .parse::<WorkerList>()
            .unwrap_err()
            .contains("at least 1"));
        assert!("10,10".parse::<WorkerList>().unwrap_err().contains("twice"));
        let err = "pool,fastest".parse::<StrategyList>().unwrap_err();
        assert!(err.contains("per-account, sharded, pool, optimal"), "{err}");
    }

    #[test]
    fn per_account_runs_once_with_auto() {
        let s: StrategyList = "per-account,pool".parse().unwrap();
        let w: WorkerList = "10,100".parse().unwrap();
        let plans = sweep_plans(&s, &w);
        assert_eq!(plans.len(), 3);
        assert_eq!(plans[0].workers(), Workers::Auto);
    }

    #[test]
    fn fractions_are_between_zero_and_one_either_way() {
        assert_eq!("0.9".parse::<Fraction>().unwrap(), Fraction(0.9));
        assert_eq!("90%".parse::<Fraction>().unwrap(), Fraction(0.9));
        assert_eq!("100%".parse::<Fraction>().unwrap(), Fraction(1.0));
        for bad in ["0", "0%", "1.5", "-0.1", "101%", "x", "90"] {
            assert!(bad.parse::<Fraction>().is_err(), "{bad}");
        }
        assert!("90"
            .parse::<Fraction>()
            .unwrap_err()
            .contains("did you mean 90%?"));
    }
}
