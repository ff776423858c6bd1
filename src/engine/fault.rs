//! Injected faults (`--fault`): an account made slow, stalled or failing, applied to the
//! workload's per-event work before it runs, so both clocks and every strategy see the same
//! fault; and, for a failing account, the failure policy folded into the run afterwards.
//!
//! A failing event is modelled as the guarded handler runs it: every try takes the event's
//! time and fails at its end; between tries the backoff waits `base × 2^n`. The guard jitters
//! each wait within its upper half; here it is the middle of that range (¾ of `base × 2^n`)
//! on both clocks, so the virtual clock's schedule is the one the real clock runs. The whole
//! life of the event (tries and waits) is its duration, so the executors need nothing new.

use super::record::Execution;
use crate::error::UsageError;
use crate::types::{AccountId, AccountIdx, EventId, EventIdx, Micros};
use crate::workload::{Durations, Workload};
use std::fmt;
use std::str::FromStr;

/// How much longer every event of a slow account takes: a finite factor ≥ 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factor(f64);

impl Factor {
    pub fn get(self) -> f64 {
        self.0
    }
}

/// What is wrong with one account.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Every event takes FACTOR× its time.
    Slow(Factor),
    /// The account's first event takes this much longer.
    Stall(Micros),
    /// Every event fails after its time (retries and `--on-failure` apply).
    Fail,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Slow(_) => "slow",
            FaultKind::Stall(_) => "stalled",
            FaultKind::Fail => "failing",
        }
    }
}

/// One `--fault`: an account and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    pub account: AccountId,
    pub kind: FaultKind,
}

const SYNTAX: &str = "expected slow:ACCOUNT:FACTOR, stall:ACCOUNT:DURATION or fail:ACCOUNT, \
                      e.g. slow:42:20, stall:42:30s, fail:42";

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split(':').map(str::trim).collect();
        let account = |a: &str| {
            a.parse::<u64>()
                .map(AccountId)
                .map_err(|_| format!("invalid account '{a}' in fault '{s}' (a whole number ≥ 0)"))
        };
        let kind = match parts.as_slice() {
            ["slow", a, f] => {
                let factor = f
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 1.0 && *v <= 1e6)
                    .ok_or_else(|| {
                        format!("invalid factor '{f}' in fault '{s}' (a number from 1 to 1000000)")
                    })?;
                return Ok(Fault {
                    account: account(a)?,
                    kind: FaultKind::Slow(Factor(factor)),
                });
            }
            ["stall", a, d] => {
                let d: Micros = d.parse().map_err(|e| format!("fault '{s}': {e}"))?;
                if d == Micros::ZERO {
                    return Err(format!("fault '{s}': a stall must last more than 0"));
                }
                (a, FaultKind::Stall(d))
            }
            ["fail", a] => (a, FaultKind::Fail),
            _ => return Err(format!("invalid fault '{s}' ({SYNTAX})")),
        };
        Ok(Fault {
            account: account(kind.0)?,
            kind: kind.1,
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.account.0;
        match self.kind {
            FaultKind::Slow(x) => write!(f, "slow:{a}:{}", x.0),
            FaultKind::Stall(d) => write!(f, "stall:{a}:{d}"),
            FaultKind::Fail => write!(f, "fail:{a}"),
        }
    }
}

/// What happens to a failing event once its tries are used up (`--on-failure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFail {
    Skip,
    StopAccount,
    Abort,
}

/// How a failing account's events are retried and given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailModel {
    pub retries: u32,
    pub backoff: Micros,
    pub after: AfterFail,
}

impl Default for FailModel {
    fn default() -> Self {
        FailModel {
            retries: 0,
            backoff: Micros(100_000),
            after: AfterFail::Skip,
        }
    }
}

impl FailModel {
    /// The whole life of a failing event of duration `d`: every try and the waits between.
    pub fn failing_time(self, d: Micros) -> Micros {
        let tries = u64::from(self.retries) + 1;
        let mut total = d.0.saturating_mul(tries);
        for n in 0..self.retries {
            let full = self.backoff.0.saturating_mul(1u64 << n.min(20));
            total = total.saturating_add(full / 4 * 3 + full % 4 * 3 / 4);
        }
        Micros(total)
    }
}

/// The `--fault` list of a run, validated against each other (not yet against a workload).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults(Vec<Fault>);

impl Faults {
    /// Refuses the same kind of fault twice on one account (which of the two would count?).
    pub fn new(faults: Vec<Fault>) -> Result<Self, UsageError> {
        for (i, f) in faults.iter().enumerate() {
            let twice = faults[..i]
                .iter()
                .any(|g| g.account == f.account && g.kind.name() == f.kind.name());
            if twice {
                return Err(UsageError(format!(
                    "--fault: account {} is {} twice; give each kind of fault once per account",
                    f.account.0,
                    f.kind.name()
                )));
            }
        }
        Ok(Faults(faults))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn list(&self) -> &[Fault] {
        &self.0
    }

    pub fn has_fail(&self) -> bool {
        self.0.iter().any(|f| f.kind == FaultKind::Fail)
    }

    /// Lays the faults onto `w`: checks every faulted account has events (exit 2 otherwise)
    /// and returns the faulted durations with what the run needs to settle afterwards.
    pub fn inject(&self, w: &Workload, model: FailModel) -> Result<Injected, UsageError> {
        let mut slow = vec![1.0f64; w.account_count()];
        let mut stall = vec![Micros::ZERO; w.account_count()];
        let mut failing = vec![false; w.account_count()];
        let mut faulted = Vec::new();
        for f in &self.0 {
            let a = w
                .account_ids()
                .iter()
                .position(|&id| id == f.account)
                .ok_or_else(|| {
                    UsageError(format!(
                        "--fault {f}: account {} has no events in {} (nothing to fault)",
                        f.account.0,
                        w.source()
                    ))
                })?;
            match f.kind {
                FaultKind::Slow(x) => slow[a] = x.0,
                FaultKind::Stall(d) => stall[a] = d,
                FaultKind::Fail => failing[a] = true,
            }
            faulted.push(AccountIdx(a as u32));
        }
        faulted.sort_unstable();
        faulted.dedup();
        let mut seen = vec![false; w.account_count()];
        let mut durations = Vec::with_capacity(w.len());
        for e in w.indexes() {
            let a = w.account_of(e).0 as usize;
            let first = !std::mem::replace(&mut seen[a], true);
            let mut d = w.duration(e);
            if slow[a] != 1.0 {
                d = Micros((d.0 as f64 * slow[a]).round() as u64);
            }
            if first {
                d = d.saturating_add(stall[a]);
            }
            if failing[a] {
                d = match (first, model.after) {
                    (false, AfterFail::StopAccount) => Micros::ZERO,
                    _ => model.failing_time(d),
                };
            }
            durations.push(d);
        }
        Ok(Injected {
            durations: Durations::PerEvent(durations),
            faulted,
            failing,
            model,
            labels: self.0.iter().map(ToString::to_string).collect(),
            kinds: self.0.iter().map(|f| f.kind.name()).collect(),
        })
    }
}

/// Faults laid onto one workload.
#[derive(Clone, Debug)]
pub struct Injected {
    /// Every event's time with the faults in (a failing event's: all its tries and waits).
    pub durations: Durations,
    /// The faulted accounts' dense indexes, sorted.
    pub faulted: Vec<AccountIdx>,
    /// By dense account index: every event of the account fails.
    failing: Vec<bool>,
    pub model: FailModel,
    /// The faults as given (`slow:42:20`), for the report.
    pub labels: Vec<String>,
    /// What each fault is (`slow`, `stalled`, `failing`), for the report's sentence.
    pub kinds: Vec<&'static str>,
}

/// What the failing accounts did, once the run is over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailTally {
    /// Events that failed every try, in arrival order.
    pub given_up: Vec<EventIdx>,
    /// Events of a stopped account that were passed over (no try), in arrival order.
    pub passed_over: Vec<EventIdx>,
    /// Events never started because the run aborted, in arrival order.
    pub not_started: Vec<EventIdx>,
    /// The first given-up event, when `--on-failure abort` stopped the run.
    pub aborted_by: Option<EventId>,
    pub tries: u64,
}

impl Injected {
    pub fn is_failing(&self, a: AccountIdx) -> bool {
        self.failing[a.0 as usize]
    }

    /// The failing accounts' ids, sorted (what a real-clock handler can look up per job).
    pub fn failing_ids(&self, w: &Workload) -> Vec<AccountId> {
        let mut ids: Vec<AccountId> = (0..self.failing.len())
            .filter(|&a| self.failing[a])
            .map(|a| w.account_id(AccountIdx(a as u32)))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Folds the failure policy into a finished run of the faulted workload `w`: passed-over
    /// events lose their records; after an abort, on the virtual clock, what started at or
    /// after the first give-up did not start (the real clock stopped there itself).
    pub fn settle(&self, w: &Workload, exec: &mut Execution) -> FailTally {
        let mut t = FailTally::default();
        if !self.failing.iter().any(|&f| f) {
            return t;
        }
        let mut seen = vec![false; w.account_count()];
        for e in w.indexes() {
            let a = w.account_of(e);
            if !self.is_failing(a) {
                continue;
            }
            let first = !std::mem::replace(&mut seen[a.0 as usize], true);
            if !first && self.model.after == AfterFail::StopAccount {
                exec.records.clear(e);
                t.passed_over.push(e);
            }
        }
        let ran = |e: EventIdx| exec.records.get(e);
        let failed_at = w
            .indexes()
            .filter(|&e| self.is_failing(w.account_of(e)))
            .filter_map(|e| ran(e).map(|r| (r.end, e)))
            .filter(|&(_, e)| t.passed_over.binary_search(&e).is_err())
            .min();
        if let (AfterFail::Abort, Some((at, by))) = (self.model.after, failed_at) {
            t.aborted_by = Some(w.event_id(by));
            if exec.clock == super::ClockKind::Virtual {
                let late: Vec<EventIdx> = w
                    .indexes()
                    .filter(|&e| ran(e).is_some_and(|r| r.start >= at))
                    .collect();
                for e in late {
                    exec.records.clear(e);
                }
                exec.wall = w
                    .indexes()
                    .filter_map(|e| exec.records.get(e).map(|r| r.end))
                    .max()
                    .unwrap_or(Micros::ZERO);
            }
            // Stopping early was the policy's decision, not an interruption.
            exec.interrupted = false;
        }
        for e in w.indexes() {
            let Some(_) = exec.records.get(e) else {
                if t.aborted_by.is_some() && t.passed_over.binary_search(&e).is_err() {
                    t.not_started.push(e);
                }
                continue;
            };
            if self.is_failing(w.account_of(e)) {
                t.given_up.push(e);
            }
        }
        t.tries = t.given_up.len() as u64 * (u64::from(self.model.retries) + 1);
        t
    }
}

#[path = "fault/sleep.rs"]
mod sleep;
pub use sleep::{AbortingSleep, FaultedSleep};

#[cfg(test)]
#[path = "fault/tests.rs"]
mod tests;
