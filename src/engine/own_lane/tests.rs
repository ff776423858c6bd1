//! Tests of `own_lane`: under tokio's paused clock it must reproduce the simulated schedule.

use super::*;
use crate::engine::clock::TokioClock;
use crate::engine::order_check::check_order_and_in_flight;
use crate::engine::sim;
use crate::engine::work::SleepHandler;
use crate::types::Micros;
use crate::types::{AccountId, EventId};
use crate::workload::{Durations, Source};

fn workload(durations: Option<&[u64]>) -> Workload {
    let accounts = [5u64, 6, 7, 8, 5, 9, 1, 1, 1, 1, 1, 2, 2, 3];
    let mut w = match durations {
        Some(_) => Workload::with_durations(Source::Live("t".into()), Durations::PerEvent(vec![])),
        None => Workload::new(Source::Live("t".into()), Micros(10_000)),
    };
    for (i, a) in accounts.into_iter().enumerate() {
        let d = durations.map(|d| Micros(d[i % d.len()] * 1_000));
        w.push(EventId(i as u64 + 1), AccountId(a), d);
    }
    w
}

async fn run(w: Workload) -> (Workload, Execution) {
    let lanes = OwnLanes::launch(Prepared::new(w), SleepHandler, TokioClock::new());
    lanes.wait().await;
    lanes.finish()
}

#[tokio::test(start_paused = true)]
async fn paused_clock_runs_reproduce_the_one_pass_schedule() {
    for durations in [None, Some(&[3u64, 1, 4, 1, 5, 9, 2, 6][..])] {
        let w = workload(durations);
        let expected = sim::unbounded(&w);
        let (w, exec) = run(w).await;
        assert_eq!(exec.wall, expected.wall);
        for e in w.indexes() {
            let (a, b) = (
                exec.records.get(e).unwrap(),
                expected.records.get(e).unwrap(),
            );
            assert_eq!((a.start, a.end), (b.start, b.end), "event {e:?}");
        }
        let v = check_order_and_in_flight(&w, &exec.records);
        assert!(v.passed(false), "{v:?}");
        assert!(!exec.interrupted);
    }
}

#[tokio::test(start_paused = true)]
async fn stop_ends_after_the_events_in_flight() {
    let lanes = OwnLanes::launch(
        Prepared::new(workload(None)),
        SleepHandler,
        TokioClock::new(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    lanes.stop();
    lanes.wait().await;
    let (w, exec) = lanes.finish();
    assert!(exec.interrupted);
    let v = check_order_and_in_flight(&w, &exec.records);
    assert!(v.passed(true), "{v:?}");
    // Two rounds of 10 ms: the first events of every account, then the second of those with more.
    assert_eq!(exec.wall, Micros(20_000));
}

#[tokio::test(start_paused = true)]
async fn an_empty_workload_ends_at_once() {
    let (_, exec) = run(Workload::new(Source::Live("t".into()), Micros(1))).await;
    assert_eq!(exec.wall, Micros::ZERO);
}

#[test]
fn only_the_heaviest_accounts_get_a_group_of_their_own() {
    // Accounts 0..12, heaviest first: 100, 60, 50, 49, then light ones.
    let work = [100, 60, 50, 49, 5, 5, 5, 5, 5, 5, 5, 5];
    let accounts: Vec<u32> = (0..12).collect();
    let shares = super::shares(&accounts, &work, 4);
    assert_eq!(&shares[..3], &[vec![0], vec![1], vec![2]]);
    assert_eq!(shares.len(), 3 + 4);
    let mut all: Vec<u32> = shares.concat();
    all.sort_unstable();
    assert_eq!(all, accounts);
    // Few accounts: every one has a group anyway, no extra groups.
    assert_eq!(super::shares(&[0, 1], &[9, 9], 4).len(), 4);
    // Even work: at most CRITICAL_MAX alone.
    let even = vec![7u64; 100];
    let accounts: Vec<u32> = (0..100).collect();
    let shares = super::shares(&accounts, &even, 4);
    assert_eq!(shares.len(), super::CRITICAL_MAX + 4);
}
