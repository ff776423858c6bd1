//! The engine: per-account queues, scheduling strategies, and the executors that run them on a
//! real clock (tokio + a precise timer) or a virtual one (discrete-event simulation).
//!
//! A strategy is a [`scheduler::Scheduler`]: a small state machine that is told when events
//! arrive and finish and answers "what starts next, on which lane". Both executors drive the
//! same schedulers, so a virtual-clock run is an exact model of the real one. [`exec`] is the
//! way in for commands: it picks the executor a [`Plan`] calls for and drives it to the end.

pub mod bound;
pub mod clock;
pub mod exec;
pub mod fault;
mod group;
pub mod order_check;
pub mod own_lane;
pub mod policy;
pub mod real;
pub mod record;
pub mod scheduler;
pub mod sim;
pub mod timer;
pub mod work;

use crate::error::UsageError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

/// The multi-thread tokio runtime that real-clock work runs on (one worker per core).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    build_runtime(tokio::runtime::Builder::new_multi_thread())
}

/// The runtime of a run whose handlers only sleep on the precise timer: one worker fewer than
/// cores (at least one). The timer's pump keeps one worker up while deadlines are near and
/// wakes the sleeps from there; on a 2-core machine a second worker only stole the woken tasks
/// across vCPUs, costing precision on short events and CPU time
/// (results/2026-11-28-short-events/session4). Zero-time work never registers a sleep, and
/// gets every core.
pub fn sleep_runtime(
    mode: timer::TimerMode,
    zero_time: bool,
) -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if mode == timer::TimerMode::Precise && !zero_time && cores > 1 {
        builder.worker_threads(cores - 1);
    }
    build_runtime(builder)
}

fn build_runtime(mut builder: tokio::runtime::Builder) -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    builder
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}

/// How events are assigned to workers. See the module docs of [`scheduler`] for each policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One lane per account; no bound on how many run at once.
    PerAccount,
    /// Worker i owns the accounts with `account_id % W == i` and runs them FIFO (the original
    /// PHP + RabbitMQ design).
    Sharded,
    /// Work-conserving: an idle worker takes the account that became ready first.
    Pool,
    /// Work-conserving: an idle worker takes the ready account with the most remaining work.
    Optimal,
    /// Another system's run, judged from its log by `verify`: never scheduled by eventbench.
    #[value(skip)]
    External,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::PerAccount,
        Strategy::Sharded,
        Strategy::Pool,
        Strategy::Optimal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::PerAccount => "per-account",
            Strategy::Sharded => "sharded",
            Strategy::Pool => "pool",
            Strategy::Optimal => "optimal",
            Strategy::External => "external",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| {
                format!("unknown strategy '{s}' (valid: per-account, sharded, pool, optimal)")
            })
    }
}

/// How many events may be in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workers {
    /// One lane per account with events: nothing else can shorten a sleep-bound run.
    Auto,
    /// At most this many events in flight.
    Fixed(NonZeroU32),
}

impl Workers {
    /// The number of lanes this resolves to for a workload with `accounts` accounts.
    pub fn resolve(self, accounts: u64) -> u64 {
        match self {
            Workers::Auto => accounts.max(1),
            Workers::Fixed(n) => u64::from(n.get()),
        }
    }
}

impl fmt::Display for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::Auto => f.write_str("auto"),
            Workers::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for Workers {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t == "auto" {
            return Ok(Workers::Auto);
        }
        match t.parse::<u64>() {
            Ok(0) => Err("workers must be at least 1 (or 'auto')".into()),
            Ok(n) => u32::try_from(n)
                .ok()
                .and_then(NonZeroU32::new)
                .map(Workers::Fixed)
                .ok_or_else(|| format!("workers '{s}' is too large (at most {})", u32::MAX)),
            Err(_) => Err(format!(
                "invalid workers '{s}' (expected 'auto' or a whole number ≥ 1)"
            )),
        }
    }
}

/// Which clock a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockKind {
    /// Wall-clock time: handlers really run (sleep) and the run takes as long as it takes.
    Real,
    /// Simulated time: the same schedule computed instantly and exactly.
    Virtual,
}

impl fmt::Display for ClockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClockKind::Real => "real",
            ClockKind::Virtual => "virtual",
        })
    }
}

/// A validated strategy + worker count: the combinations that make no sense cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Plan {
    strategy: Strategy,
    workers: Workers,
}

impl Plan {
    /// Rejects `per-account` with a fixed worker count: that strategy has one lane per account
    /// by definition, and silently ignoring the number would mislabel the result.
    pub fn new(strategy: Strategy, workers: Workers) -> Result<Self, UsageError> {
        if strategy == Strategy::External {
            return Err(UsageError(
                "the external strategy only labels runs judged by `verify`".into(),
            ));
        }
        if strategy == Strategy::PerAccount && workers != Workers::Auto {
            return Err(UsageError(format!(
                "--strategy per-account runs one lane per account, so --workers {workers} does \
                 not apply; use --workers auto, or a bounded strategy (sharded, pool, optimal)"
            )));
        }
        Ok(Plan { strategy, workers })
    }

    pub fn strategy(self) -> Strategy {
        self.strategy
    }

    pub fn workers(self) -> Workers {
        self.workers
    }

    /// Lanes when events arrive live and the accounts are not known up front: `auto` means one
    /// lane per account as accounts appear, which `sharded` cannot do (it needs its modulus at
    /// the start).
    pub fn live_lanes(self) -> Result<Option<u64>, UsageError> {
        match (self.strategy, self.workers) {
            (Strategy::Sharded, Workers::Auto) => Err(UsageError(
                "--strategy sharded needs a number of workers when events arrive live (the \
                 accounts are not known up front); use e.g. --workers 500, or --strategy \
                 optimal with --workers auto"
                    .into(),
            )),
            (Strategy::PerAccount, _) | (_, Workers::Auto) => Ok(None),
            (_, Workers::Fixed(n)) => Ok(Some(u64::from(n.get()))),
        }
    }

    /// Whether every one of `accounts` accounts gets a lane of its own. Then no policy ever makes
    /// an account wait, so both clocks take a faster path that runs each account's chain
    /// straight (`sharded` is excluded: its modulus can put two accounts on one lane).
    pub fn own_lanes(self, accounts: u64) -> bool {
        lanes_are_per_account(self.strategy, self.lanes(accounts), accounts)
    }

    /// Lanes for a workload with `accounts` accounts; `None` means unbounded (one per account).
    pub fn lanes(self, accounts: u64) -> Option<u64> {
        match (self.strategy, self.workers) {
            (Strategy::PerAccount, _) => None,
            (_, w) => Some(w.resolve(accounts)),
        }
    }
}

/// [`Plan::own_lanes`] for a lane count already resolved (`None`: one per account).
pub fn lanes_are_per_account(strategy: Strategy, lanes: Option<u64>, accounts: u64) -> bool {
    strategy != Strategy::Sharded && lanes.is_none_or(|l| l >= accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The KEY rows of the durations table with W = 100 and at most 100 keys: `pool` and
    /// `optimal` lay the workload out for the same own-lane executor, so they run the same
    /// schedule and any difference between their figures is run-to-run noise.
    #[test]
    fn pool_and_optimal_share_the_own_lane_executor_when_every_key_has_a_lane() {
        let w = Workers::Fixed(NonZeroU32::new(100).unwrap());
        for keys in [1, 2, 10, 100] {
            let pool = Plan::new(Strategy::Pool, w).unwrap();
            let optimal = Plan::new(Strategy::Optimal, w).unwrap();
            assert!(
                pool.own_lanes(keys) && optimal.own_lanes(keys),
                "{keys} keys"
            );
        }
        let optimal = Plan::new(Strategy::Optimal, w).unwrap();
        assert!(!optimal.own_lanes(1_000));
    }

    #[test]
    fn workers_parse_and_reject_zero() {
        assert_eq!("auto".parse::<Workers>().unwrap(), Workers::Auto);
        assert_eq!(
            "500".parse::<Workers>().unwrap(),
            Workers::Fixed(NonZeroU32::new(500).unwrap())
        );
        assert!("0".parse::<Workers>().unwrap_err().contains("at least 1"));
        assert!("-3".parse::<Workers>().is_err());
        assert!("99999999999".parse::<Workers>().is_err());
    }

    #[test]
    fn strategies_round_trip_and_list_valid_values() {
        for s in Strategy::ALL {
            assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
        }
        assert!("fastest"
            .parse::<Strategy>()
            .unwrap_err()
            .contains("optimal"));
    }

    #[test]
    fn per_account_refuses_a_worker_count() {
        let n = Workers::Fixed(NonZeroU32::new(4).unwrap());
        assert!(Plan::new(Strategy::PerAccount, n).is_err());
        assert!(Plan::new(Strategy::PerAccount, Workers::Auto).is_ok());
        assert_eq!(Plan::new(Strategy::Pool, n).unwrap().lanes(10), Some(4));
        assert_eq!(
            Plan::new(Strategy::Optimal, Workers::Auto)
                .unwrap()
                .lanes(10),
            Some(10)
        );
    }
}
