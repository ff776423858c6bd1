//! Property tests of the scheduler invariants on the virtual clock: for random workloads
//! (skewed, single-account, unequal durations) and random worker counts, every strategy keeps
//! per-account order and its lane bound, `optimal` meets the lower bound when durations are
//! equal, `sharded` equals its busiest shard, and `pool` stays within twice the bound.

use eventbench::engine::bound::lower_bound;
use eventbench::engine::order_check::check_order_and_in_flight as verify;
use eventbench::engine::scheduler::build;
use eventbench::engine::sim::{run, simulate};
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
    fn one_pass_schedule_matches_the_scheduler_when_lanes_are_plentiful(
        raw in raw_workload(false),
        extra in 0u64..5,
    ) {
        let w = raw.workload();
        let fast = eventbench::engine::sim::unbounded(&w);
        prop_assert!(verify(&w, &fast.records).passed(false));
        for strategy in [Strategy::PerAccount, Strategy::Pool, Strategy::Optimal] {
            let lanes = (strategy != Strategy::PerAccount).then(|| w.account_count() as u64 + extra);
            let slow = simulate(&w, build(strategy, lanes).as_mut());
            prop_assert_eq!(slow.wall, fast.wall, "{}", strategy);
            for e in w.indexes() {
                let (a, b) = (slow.records.get(e).unwrap(), fast.records.get(e).unwrap());
                prop_assert_eq!((a.start, a.end), (b.start, b.end), "{} event {:?}", strategy, e);
            }
        }
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

/// With unequal durations, most remaining work first is a heuristic (like LPT) and can lose
/// to ready order. The smallest case found: two lanes; account 3 has two 2 µs events, accounts
/// 4 and 1 one 5 µs event each. Most-work-first starts the two 5 µs accounts and runs account
/// 3's chain after them (9 µs); ready order starts account 3 at once and slots its events
/// around the others (7 µs = the bound). `optimal` on a known workload simulates both orders
/// and keeps the shorter one.
#[test]
fn optimal_keeps_ready_order_where_most_work_first_loses() {
    let raw = Raw {
        accounts: vec![3, 3, 4, 1],
        durations: Some(vec![2, 2, 5, 5]),
        fixed: 0,
    };
    let w = raw.workload();
    let most_work_first = simulate(&w, build(Strategy::Optimal, Some(2)).as_mut())
        .wall
        .0;
    let pool = simulate(&w, build(Strategy::Pool, Some(2)).as_mut()).wall.0;
    let optimal = run(&w, Strategy::Optimal, Some(2)).wall.0;
    assert_eq!(raw.bound(2), 7);
    assert_eq!((most_work_first, pool, optimal), (9, 7, 7));
}

/// Small workloads (up to 12 events, 5 accounts, 4 lanes) where packing decides the makespan.
fn small_unequal_workload() -> impl proptest::strategy::Strategy<Value = (Raw, u64)> {
    (1u64..=5, 1usize..=12, 1u64..=4).prop_flat_map(|(accounts, n, lanes)| {
        (
            prop::collection::vec(1..=accounts, n),
            prop::collection::vec(0u64..50, n),
            Just(lanes),
        )
            .prop_map(|(accounts, durations, lanes)| {
                let raw = Raw {
                    accounts,
                    durations: Some(durations),
                    fixed: 0,
                };
                (raw, lanes)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Most-work-first alone loses to `pool` on about one small workload in a hundred (up to
    /// 29%); `optimal` as run never does (see the test above).
    #[test]
    fn optimal_is_within_one_percent_of_pool_with_unequal_durations(
        (raw, lanes) in small_unequal_workload(),
    ) {
        let w = raw.workload();
        let optimal = run(&w, Strategy::Optimal, Some(lanes)).wall.0;
        let pool = simulate(&w, build(Strategy::Pool, Some(lanes)).as_mut()).wall.0;
        prop_assert!(
            optimal * 100 <= pool * 101,
            "optimal {optimal} vs pool {pool} on {lanes} lanes"
        );
    }
}
