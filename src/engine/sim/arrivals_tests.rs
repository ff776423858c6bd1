//! The arrival-aware virtual clock: hand-computed schedules, and properties against the batch
//! simulation and the bound over arrivals.

use super::*;
use crate::engine::bound::lower_bound_over_arrivals;
use crate::engine::order_check::check_order_and_in_flight;
use crate::types::{AccountId, EventId};
use crate::workload::{Durations, Source};

/// A workload of `(account, arrival, duration)` in arrival order, and its arrivals.
fn live(events: &[(u64, u64, u64)]) -> (Workload, Vec<Micros>) {
    let mut w = Workload::with_durations(Source::Live("t".into()), Durations::PerEvent(vec![]));
    for (i, &(a, _, d)) in events.iter().enumerate() {
        w.push(EventId(i as u64 + 1), AccountId(a), Some(Micros(d)));
    }
    (w, events.iter().map(|&(_, at, _)| Micros(at)).collect())
}

fn run_live(events: &[(u64, u64, u64)], strategy: Strategy, lanes: Option<u64>) -> Execution {
    let (w, at) = live(events);
    run_over_arrivals(&w, strategy, lanes, |e| at[e.0 as usize])
}

fn starts(exec: &Execution, n: u32) -> Vec<u64> {
    (0..n)
        .map(|i| exec.records.get(EventIdx(i)).expect("ran").start.0)
        .collect()
}

#[test]
fn a_lane_idles_until_the_next_event_arrives() {
    let exec = run_live(&[(1, 0, 10), (2, 100, 10)], Strategy::Pool, Some(1));
    assert_eq!(starts(&exec, 2), [0, 100]);
    assert_eq!(exec.wall, Micros(110));
}

#[test]
fn a_shard_queues_what_arrived_while_it_was_busy() {
    // Accounts 1 and 3 share lane 1 of 2; 3's event arrives at 5, while 1's runs until 10.
    let events = [(1, 0, 10), (3, 5, 10), (2, 5, 10), (1, 30, 10)];
    let exec = run_live(&events, Strategy::Sharded, Some(2));
    assert_eq!(starts(&exec, 4), [0, 10, 5, 30]);
    assert_eq!(exec.wall, Micros(40));
}

#[test]
fn the_records_keep_the_arrivals_on_their_clock() {
    let exec = run_live(
        &[(1, 1_000, 10), (1, 1_000, 10)],
        Strategy::Optimal,
        Some(4),
    );
    assert!(exec.records.has_arrivals());
    assert_eq!(exec.records.first_arrival(), Micros(1_000));
    assert_eq!(starts(&exec, 2), [1_000, 1_010]);
}

#[test]
fn an_account_is_never_ready_before_its_previous_event_arrived() {
    // A hand-made log with an account's second event "arriving" first.
    let exec = run_live(&[(1, 50, 10), (1, 0, 10)], Strategy::PerAccount, None);
    assert_eq!(starts(&exec, 2), [50, 60]);
}

const STRATEGIES: [Strategy; 4] = [
    Strategy::Optimal,
    Strategy::Pool,
    Strategy::Sharded,
    Strategy::PerAccount,
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// With every arrival at 0 it is the batch simulation, event by event; with arrivals,
    /// no event starts before it arrived, each account's order holds, the lanes are not
    /// exceeded, and the makespan is at least the bound over arrivals (exactly it with a lane
    /// per account).
    #[test]
    fn arrivals_only_ever_delay_and_zero_arrivals_change_nothing(
        events in proptest::collection::vec((1u64..6, 0u64..8, 1u64..6), 1..40),
        lanes in proptest::option::of(1u64..5),
        pick in 0usize..4,
        uniform in proptest::bool::ANY,
    ) {
        let strategy = STRATEGIES[pick];
        let lanes = if strategy == Strategy::PerAccount { None } else { lanes };
        let mut t = 0;
        let events: Vec<_> = events
            .into_iter()
            .map(|(a, gap, d)| {
                t += gap;
                (a, t, if uniform { 3 } else { d })
            })
            .collect();
        let (w, at) = live(&events);
        let batch = crate::engine::sim::run(&w, strategy, lanes);
        let zero = run_over_arrivals(&w, strategy, lanes, |_| Micros::ZERO);
        proptest::prop_assert_eq!(zero.wall, batch.wall);
        for e in w.indexes() {
            proptest::prop_assert_eq!(zero.records.get(e), batch.records.get(e));
        }
        let exec = run_over_arrivals(&w, strategy, lanes, |e| at[e.0 as usize]);
        let check = check_order_and_in_flight(&w, &exec.records);
        proptest::prop_assert!(check.passed(false));
        let width = match crate::engine::lanes_are_per_account(strategy, lanes, w.account_count() as u64) {
            true => w.account_count() as u64,
            false => lanes.unwrap_or(1),
        };
        proptest::prop_assert!(check.max_in_flight <= width);
        for e in w.indexes() {
            let r = exec.records.get(e).expect("every event runs");
            proptest::prop_assert!(r.start >= at[e.0 as usize], "{e:?} started before it arrived");
        }
        let bound = lower_bound_over_arrivals(&w, lanes, |e| at[e.0 as usize], |_| true);
        proptest::prop_assert!(exec.wall >= bound, "{strategy} {lanes:?}: {:?} < {bound:?}", exec.wall);
        if strategy == Strategy::PerAccount {
            proptest::prop_assert_eq!(exec.wall, bound);
        }
    }
}
