//! Tests of the fault syntax, the faulted durations and the settled failure policy.

use super::*;
use crate::engine::{sim, Strategy};
use crate::workload::Source;

fn workload(accounts: &[u64], d: u64) -> Workload {
    let mut w = Workload::new(Source::Live("t".into()), Micros(d));
    for (i, &a) in accounts.iter().enumerate() {
        w.push(EventId(i as u64 + 1), AccountId(a), None);
    }
    w
}

fn durations(i: &Injected) -> Vec<u64> {
    match &i.durations {
        Durations::PerEvent(v) => v.iter().map(|d| d.0).collect(),
        Durations::Fixed(_) => unreachable!("faults give per-event durations"),
    }
}

/// `fail:1` under `after`, run on `lanes` pool lanes of the virtual clock and settled.
fn settle_fail_of_account_1(w: &Workload, after: AfterFail, lanes: u64) -> (Execution, FailTally) {
    let model = FailModel {
        after,
        ..FailModel::default()
    };
    let i = Faults::new(vec!["fail:1".parse().unwrap()])
        .unwrap()
        .inject(w, model)
        .unwrap();
    let mut faulted = w.clone();
    faulted.replace_durations(i.durations.clone());
    let mut exec = sim::run(&faulted, Strategy::Pool, Some(lanes));
    let t = i.settle(&faulted, &mut exec);
    (exec, t)
}

#[test]
fn faults_parse_and_bad_ones_say_what_is_wrong() {
    let f: Fault = "slow:42:20".parse().unwrap();
    assert_eq!(f.account, AccountId(42));
    assert_eq!(f.kind, FaultKind::Slow(Factor(20.0)));
    assert_eq!(f.to_string(), "slow:42:20");
    let s: Fault = " stall:7:30s ".parse().unwrap();
    assert_eq!(s.kind, FaultKind::Stall(Micros(30_000_000)));
    assert_eq!("fail:3".parse::<Fault>().unwrap().kind, FaultKind::Fail);
    for (bad, says) in [
        ("slow:42", "expected slow:ACCOUNT:FACTOR"),
        ("slow:x:2", "invalid account 'x'"),
        ("slow:1:0.5", "invalid factor '0.5'"),
        ("slow:1:inf", "invalid factor"),
        ("stall:1:soon", "invalid duration"),
        ("stall:1:0s", "more than 0"),
        ("fail:1:2", "expected"),
        ("hang:1", "expected"),
        ("fail:-1", "invalid account"),
    ] {
        let e = bad.parse::<Fault>().unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
    let twice = Faults::new(vec![f, "slow:42:3".parse().unwrap()]).unwrap_err();
    assert!(twice.0.contains("account 42 is slow twice"), "{}", twice.0);
    assert!(Faults::new(vec![f, "fail:42".parse().unwrap()]).is_ok());
}

#[test]
fn slow_stall_and_fail_change_only_their_accounts_events() {
    let w = workload(&[1, 2, 1, 3, 1], 10);
    let faults = Faults::new(vec![
        "slow:1:3".parse().unwrap(),
        "stall:2:5us".parse().unwrap(),
    ])
    .unwrap();
    let i = faults.inject(&w, FailModel::default()).unwrap();
    assert_eq!(durations(&i), [30, 15, 30, 10, 30]);
    assert_eq!(i.faulted, [AccountIdx(0), AccountIdx(1)]);
    let missing = Faults::new(vec!["fail:9".parse().unwrap()]).unwrap();
    let e = missing.inject(&w, FailModel::default()).unwrap_err();
    assert!(e.0.contains("account 9 has no events"), "{}", e.0);
    // Two retries, backoff 100 µs: 3 tries of 10 and waits of 75 and 150.
    let model = FailModel {
        retries: 2,
        backoff: Micros(100),
        after: AfterFail::StopAccount,
    };
    let fail = Faults::new(vec!["fail:1".parse().unwrap()]).unwrap();
    let i = fail.inject(&w, model).unwrap();
    assert_eq!(durations(&i), [255, 10, 0, 10, 0]);
}

#[test]
fn stop_account_passes_the_accounts_later_events_over() {
    let w = workload(&[1, 2, 1, 2, 1], 10);
    let (exec, t) = settle_fail_of_account_1(&w, AfterFail::StopAccount, 2);
    assert_eq!(t.given_up, [EventIdx(0)]);
    assert_eq!(t.passed_over, [EventIdx(2), EventIdx(4)]);
    assert!(t.not_started.is_empty() && t.aborted_by.is_none());
    assert!(exec.records.get(EventIdx(2)).is_none());
    assert_eq!(exec.records.get(EventIdx(3)).unwrap().end, Micros(20));
}

#[test]
fn abort_on_the_virtual_clock_starts_nothing_after_the_first_give_up() {
    // One lane: event 0 (account 1) fails at 10; nothing after it starts.
    let w = workload(&[2, 1, 2, 3], 10);
    let (exec, t) = settle_fail_of_account_1(&w, AfterFail::Abort, 1);
    assert_eq!(t.aborted_by, Some(EventId(2)));
    assert_eq!(t.given_up, [EventIdx(1)]);
    assert_eq!(t.not_started, [EventIdx(2), EventIdx(3)]);
    assert_eq!(exec.wall, Micros(20));
    assert!(!exec.interrupted);
}
