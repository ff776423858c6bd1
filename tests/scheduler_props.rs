//! Property tests of the scheduler invariants on the virtual clock: for random workloads
//! (skewed, single-account, unequal durations) and random worker counts, every strategy keeps
//! per-account order and its lane bound, `optimal` meets the lower bound when durations are
//! equal, `sharded` equals its busiest shard, and `pool` stays within twice the bound.

use eventbench::engine::bound::lower_bound;
use eventbench::engine::scheduler::build;
use eventbench::engine::sim::simulate;
use eventbench::engine::verify::verify;
use eventbench::engine::Strategy;
use eventbench::types::{AccountId, EventId, Micros};
use eventbench::workload::{Durations, Source, Workload};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;
use std::collections::HashMap;

/// A workload as plain vectors, so the test can compute its own expectations.
#[derive(Debug, Clone)]
struct Raw {
    accounts: Vec<u64>,
    durations: Option<Vec<u64>>,
    fixed: u64,
}

impl Raw {
    fn workload(&self) -> Workload {
        let mut w = match &self.durations {
            Some(_) => {
                Workload::with_durations(Source::Live("prop".into()), Durations::PerEvent(vec![]))
            }
            None => Workload::new(Source::Live("prop".into()), Micros(self.fixed)),
        };
        for (i, &a) in self.accounts.iter().enumerate() {
            let d = self.durations.as_ref().map(|d| Micros(d[i]));
            w.push(EventId(i as u64 + 1), AccountId(a), d);
        }
        w
    }

    fn duration(&self, i: usize) -> u64 {
        self.durations.as_ref().map_or(self.fixed, |d| d[i])
    }

    /// The bound computed from scratch: max(heaviest account, total work spread on w lanes).
    fn bound(&self, lanes: u64) -> u64 {
        let mut per_account: HashMap<u64, (u64, u64)> = HashMap::new();
        for (i, &a) in self.accounts.iter().enumerate() {
            let e = per_account.entry(a).or_default();
            e.0 += 1;
            e.1 += self.duration(i);
        }
        let heaviest = per_account.values().map(|v| v.1).max().unwrap_or(0);
        let spread = match self.durations {
            None => (self.accounts.len() as u64).div_ceil(lanes) * self.fixed,
            Some(ref d) => d.iter().sum::<u64>().div_ceil(lanes),
        };
        heaviest.max(spread)
    }

    fn busiest_shard(&self, lanes: u64) -> u64 {
        let mut load = vec![0u64; lanes as usize];
        for (i, &a) in self.accounts.iter().enumerate() {
            load[(a % lanes) as usize] += self.duration(i);
        }
        load.into_iter().max().unwrap_or(0)
    }
}

fn raw_workload(equal: bool) -> impl proptest::strategy::Strategy<Value = Raw> {
    let accounts = prop_oneof![
        // Uniform over a few accounts, skewed towards account 1, or one single account.
        (1u64..40).prop_flat_map(|n| prop::collection::vec(1..=n, 0..200)),
        prop::collection::vec(prop_oneof![3 => Just(1u64), 1 => 2u64..30], 0..200),
        prop::collection::vec(Just(7u64), 0..60),
    ];
    accounts.prop_flat_map(move |accounts| {
        let n = accounts.len();
        let durations = if equal {
            Just(None).boxed()
        } else {
            prop::option::of(prop::collection::vec(0u64..50, n)).boxed()
        };
        (Just(accounts), durations, 1u64..20).prop_map(|(accounts, durations, fixed)| Raw {
            accounts,
            durations,
            fixed,
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn equal_durations_meet_their_exact_makespans(raw in raw_workload(true), lanes in 1u64..40) {
        let w = raw.workload();
        let bound = raw.bound(lanes);
        prop_assert_eq!(lower_bound(&w.shape(), Some(lanes)), Micros(bound));
        for strategy in [Strategy::Optimal, Strategy::Pool, Strategy::Sharded] {
            let exec = simulate(&w, build(strategy, Some(lanes)).as_mut());
            let v = verify(&w, &exec.records);
            prop_assert!(v.passed(false), "{strategy}: {v:?}");
            prop_assert!(v.max_in_flight <= lanes, "{strategy}: {} in flight", v.max_in_flight);
            prop_assert!(exec.wall.0 >= bound, "{strategy} beat the bound");
            match strategy {
                Strategy::Optimal => prop_assert_eq!(exec.wall.0, bound),
                Strategy::Sharded => prop_assert_eq!(exec.wall.0, raw.busiest_shard(lanes)),
                _ => prop_assert!(exec.wall.0 <= 2 * bound, "pool above twice the bound"),
            }
        }
        let exec = simulate(&w, build(Strategy::PerAccount, None).as_mut());
        prop_assert_eq!(exec.wall.0, raw.bound(u64::MAX));
    }

    #[test]
    fn unequal_durations_keep_order_and_bounds(raw in raw_workload(false), lanes in 1u64..40) {
        let w = raw.workload();
        let bound = raw.bound(lanes);
        prop_assert_eq!(lower_bound(&w.shape(), Some(lanes)), Micros(bound));
        for strategy in [Strategy::Optimal, Strategy::Pool, Strategy::Sharded] {
            let exec = simulate(&w, build(strategy, Some(lanes)).as_mut());
            let v = verify(&w, &exec.records);
            prop_assert!(v.passed(false), "{strategy}: {v:?}");
            prop_assert!(v.max_in_flight <= lanes);
            prop_assert!(exec.wall.0 >= bound);
            if strategy == Strategy::Sharded {
                prop_assert_eq!(exec.wall.0, raw.busiest_shard(lanes));
            } else {
                // Graham: any work-conserving list schedule is within 2x of optimal.
                prop_assert!(exec.wall.0 <= 2 * bound.max(1));
            }
        }
    }
}
