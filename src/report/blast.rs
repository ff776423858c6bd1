//! Blast radius (`--fault`): how far the faults of a few accounts spread to the others (the
//! bystanders), against the same strategy and workers run without the faults on the virtual
//! clock (docs/REPORT.md).

use crate::engine::record::Execution;
use crate::types::{AccountIdx, Micros};
use crate::workload::Workload;
use serde::{Deserialize, Serialize};

/// A faulted run's reference and what the report needs to judge it.
pub struct FaultRun {
    /// The faults as given (`slow:42:20`).
    pub labels: Vec<String>,
    /// The faulted accounts' dense indexes.
    pub faulted: Vec<AccountIdx>,
    /// The same workload without the faults, same strategy and workers, virtual clock.
    pub reference: Execution,
    /// An event's processing time without the faults (the mean when events carry their own):
    /// a bystander ending later by more than half of it is delayed.
    pub unit: Micros,
    /// A failing account's counts, for the report's handler fields.
    pub failures: Option<FailCounts>,
}

/// What the failing accounts' events did, as a real handler's guard counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailCounts {
    /// Failed tries.
    pub failures: u64,
    pub retries: u64,
    pub given_up: u64,
    pub not_attempted: u64,
}

/// The report's bystander figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blast {
    /// The `--fault` values of the run.
    pub faults: Vec<String>,
    pub faulted_accounts: u64,
    /// Accounts with events and no fault.
    pub bystanders: u64,
    /// Bystanders whose last event ended later than in the fault-free run by more than half an
    /// event's processing time (or never ended: an aborted run).
    pub bystanders_delayed: u64,
    /// How much later the bystanders' last events ended (0 for none later), over the
    /// bystanders that finished.
    pub bystander_delay_s: Delay,
    /// Total time bystander events waited, ready to run, while the lane that later ran them
    /// ran a faulted account's event.
    pub blocked_s: f64,
}

/// Percentiles of the bystanders' delays, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delay {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Each account's last end among its events that ran, and whether one did not run. A live
/// run's times count from its first arrival, as its wall time does.
fn last_ends(w: &Workload, exec: &Execution) -> (Vec<u64>, Vec<bool>) {
    let mut last = vec![0u64; w.account_count()];
    let mut missing = vec![false; w.account_count()];
    let origin = match exec.records.has_arrivals() {
        true => exec.records.first_arrival().0,
        false => 0,
    };
    for e in w.indexes() {
        let a = w.account_of(e).0 as usize;
        match exec.records.get(e) {
            Some(r) => last[a] = last[a].max(r.end.0.saturating_sub(origin)),
            None => missing[a] = true,
        }
    }
    (last, missing)
}

/// The figures of a faulted run `exec` of `w` (with its faulted durations).
pub(crate) fn measure(w: &Workload, exec: &Execution, run: &FaultRun) -> Blast {
    let mut is_faulted = vec![false; w.account_count()];
    for a in &run.faulted {
        is_faulted[a.0 as usize] = true;
    }
    let (last, missing) = last_ends(w, exec);
    let (reference, _) = last_ends(w, &run.reference);
    let mut delays = Vec::new();
    let mut delayed = 0u64;
    for a in (0..w.account_count()).filter(|&a| !is_faulted[a]) {
        if missing[a] {
            delayed += 1;
            continue;
        }
        let d = last[a].saturating_sub(reference[a]);
        if d.saturating_mul(2) > run.unit.0 {
            delayed += 1;
        }
        delays.push(d);
    }
    delays.sort_unstable();
    let at = |q: f64| -> f64 {
        match delays.len() {
            0 => 0.0,
            n => {
                let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
                Micros(delays[rank - 1]).as_secs_f64()
            }
        }
    };
    Blast {
        faults: run.labels.clone(),
        faulted_accounts: run.faulted.len() as u64,
        bystanders: (w.account_count() - run.faulted.len()) as u64,
        bystanders_delayed: delayed,
        bystander_delay_s: Delay {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        },
        blocked_s: Micros(blocked(w, exec, &is_faulted)).as_secs_f64(),
    }
}

/// Sum over bystander events of the time each waited, ready (arrived, and its account's
/// previous event over), while its lane ran a faulted account's event.
fn blocked(w: &Workload, exec: &Execution, is_faulted: &[bool]) -> u64 {
    let mut lanes: Vec<Vec<(u64, u64)>> = Vec::new();
    for e in w.indexes() {
        if !is_faulted[w.account_of(e).0 as usize] {
            continue;
        }
        if let Some(r) = exec.records.get(e) {
            let l = exec.records.lane(e, w).0 as usize;
            if lanes.len() <= l {
                lanes.resize_with(l + 1, Vec::new);
            }
            lanes[l].push((r.start.0, r.end.0));
        }
    }
    for spans in &mut lanes {
        spans.sort_unstable();
    }
    let mut previous_end = vec![0u64; w.account_count()];
    let mut total = 0u64;
    for e in w.indexes() {
        let a = w.account_of(e).0 as usize;
        let Some(r) = exec.records.get(e) else {
            continue;
        };
        let ready = r.arrival.0.max(previous_end[a]);
        previous_end[a] = r.end.0;
        if is_faulted[a] || ready >= r.start.0 {
            continue;
        }
        let Some(spans) = lanes.get(exec.records.lane(e, w).0 as usize) else {
            continue;
        };
        // One lane runs one event at a time: its spans are disjoint, sorted by start and end.
        let from = spans.partition_point(|&(_, end)| end <= ready);
        for &(s, end) in spans[from..].iter().take_while(|&&(s, _)| s < r.start.0) {
            total += end.min(r.start.0).saturating_sub(s.max(ready));
        }
    }
    total
}

impl Blast {
    /// The one line of the terminal and HTML reports, e.g. "1 slow account delayed 9 of 999
    /// other accounts, p99 +180 s".
    pub fn sentence(&self) -> String {
        let kind = |label: &str| match label.split(':').next() {
            Some("slow") => "slow",
            Some("stall") => "stalled",
            Some("fail") => "failing",
            _ => "faulted",
        };
        let mut kinds = self.faults.iter().map(|l| kind(l));
        let first = kinds.next().unwrap_or("faulted");
        let what = if kinds.all(|k| k == first) {
            first
        } else {
            "faulted"
        };
        let n = self.faulted_accounts;
        let plural = |n: u64| if n == 1 { "account" } else { "accounts" };
        format!(
            "{n} {what} {} delayed {} of {} other {}, p99 +{}, max +{}",
            plural(n),
            self.bystanders_delayed,
            self.bystanders,
            plural(self.bystanders),
            seconds(self.bystander_delay_s.p99),
            seconds(self.bystander_delay_s.max)
        )
    }
}

/// The terminal report's lines of a faulted run (none without faults).
pub(crate) fn render(r: &super::Report) -> String {
    let Some(b) = &r.blast else {
        return String::new();
    };
    let d = &b.bystander_delay_s;
    let mut o = format!("faults       {}\n", b.faults.join(", "));
    let h = &r.handling;
    if b.faults.iter().any(|f| f.starts_with("fail:")) {
        o.push_str(&format!(
            "failures     {} failed tries, {} retries, {} given up, {} not attempted\n",
            h.handler_failures, h.retries, h.given_up, h.not_attempted
        ));
    }
    o.push_str(&format!("blast radius {}\n", b.sentence()));
    o.push_str(&format!(
        "bystanders   delay p50 +{}, p99 +{}, max +{}; blocked {} behind faulted events\n",
        seconds(d.p50),
        seconds(d.p99),
        seconds(d.max),
        seconds(b.blocked_s)
    ));
    o
}

/// The blast-radius lines of a sweep's faulted runs, for the terminal (none without faults).
pub(crate) fn render_sweep(runs: &[super::Report]) -> String {
    let mut o = String::new();
    for r in runs {
        let Some(b) = &r.blast else { continue };
        if o.is_empty() {
            o.push_str(&format!("\nblast radius of {}\n", b.faults.join(", ")));
        }
        o.push_str(&format!(
            "  {} ({} workers): {}; blocked {}\n",
            r.strategy,
            r.workers_requested,
            b.sentence(),
            seconds(b.blocked_s)
        ));
    }
    o
}

/// A delay in the unit that keeps it short: `180 s`, `12.5 ms`.
pub(crate) fn seconds(s: f64) -> String {
    match s {
        s if s >= 100.0 => format!("{s:.0} s"),
        s if s >= 1.0 => format!("{s:.1} s"),
        s if s >= 0.001 => format!("{:.1} ms", s * 1e3),
        s => format!("{:.0} us", s * 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fault::{FailModel, Faults};
    use crate::engine::{sim, Strategy};
    use crate::types::{AccountId, EventId};
    use crate::workload::Source;

    fn faulted_run(accounts: &[u64], fault: &str, strategy: Strategy, lanes: Option<u64>) -> Blast {
        let mut w = Workload::new(Source::Live("t".into()), Micros(10));
        for (i, &a) in accounts.iter().enumerate() {
            w.push(EventId(i as u64 + 1), AccountId(a), None);
        }
        let reference = sim::run(&w, strategy, lanes);
        let faults = Faults::new(vec![fault.parse().unwrap()]).unwrap();
        let i = faults.inject(&w, FailModel::default()).unwrap();
        w.replace_durations(i.durations.clone());
        let exec = sim::run(&w, strategy, lanes);
        let run = FaultRun {
            labels: i.labels.clone(),
            faulted: i.faulted.clone(),
            reference,
            unit: Micros(10),
            failures: None,
        };
        measure(&w, &exec, &run)
    }

    #[test]
    fn a_slow_account_delays_its_shard_mates_and_no_one_on_its_own_lane() {
        // Two shards: accounts 1 and 3 share lane 1; account 1 slowed 5×.
        let sharded = faulted_run(&[1, 3, 1, 3, 2], "slow:1:5", Strategy::Sharded, Some(2));
        assert_eq!((sharded.faulted_accounts, sharded.bystanders), (1, 2));
        assert_eq!(sharded.bystanders_delayed, 1);
        // Account 3's two events each waited behind one slowed event of 50.
        assert_eq!(sharded.blocked_s, 100e-6);
        assert_eq!(sharded.bystander_delay_s.max, 80e-6);
        assert_eq!(
            sharded.sentence(),
            "1 slow account delayed 1 of 2 other accounts, p99 +80 us, max +80 us"
        );
        let own = faulted_run(&[1, 3, 1, 3, 2], "slow:1:5", Strategy::PerAccount, None);
        assert_eq!((own.bystanders_delayed, own.blocked_s), (0, 0.0));
    }

    proptest::proptest! {
        /// One lane per account: no fault can delay another account. Sharded: only the
        /// accounts of the faulted account's shard can be delayed.
        #[test]
        fn faults_reach_no_one_on_own_lanes_and_only_shard_mates_when_sharded(
            accounts in proptest::collection::vec(1u64..30, 1..150),
            pick in 0usize..150,
            factor in 1u32..40,
            lanes in 1u64..8,
        ) {
            let victim = accounts[pick % accounts.len()];
            let fault = format!("slow:{victim}:{factor}");
            let own = faulted_run(&accounts, &fault, Strategy::PerAccount, None);
            proptest::prop_assert_eq!(own.bystanders_delayed, 0);
            proptest::prop_assert_eq!(own.blocked_s, 0.0);
            let mut mates: Vec<u64> = accounts
                .iter()
                .copied()
                .filter(|&a| a != victim && a % lanes == victim % lanes)
                .collect();
            mates.sort_unstable();
            mates.dedup();
            let sharded = faulted_run(&accounts, &fault, Strategy::Sharded, Some(lanes));
            proptest::prop_assert!(sharded.bystanders_delayed <= mates.len() as u64);
        }
    }
}
