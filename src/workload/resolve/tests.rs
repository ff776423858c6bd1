//! Tests of `resolve`: the loader's raw-id path must give the workload that pushing each
//! event would have, with the same shape and fingerprint.

use super::super::csv::load_reader;
use super::*;
use crate::workload::Source;
use proptest::prelude::*;
use std::path::Path;

/// Events pushed one by one (the lookup path), with nothing kept from a resolving pass.
fn pushed(events: &[(u64, u64, u64)], per_event: bool) -> Workload {
    let mut w = workload(per_event);
    for &(id, account, d) in events {
        w.push(EventId(id), AccountId(account), Some(Micros(d)));
    }
    w
}

/// The same events through the loader's path: raw while the ids fit in 32 bits.
fn raw(events: &[(u64, u64, u64)], per_event: bool) -> Workload {
    let mut w = workload(per_event);
    for &(id, account, d) in events {
        match u32::try_from(account) {
            Ok(a) if w.account_ids.is_empty() => w.push_raw(EventId(id), a, Some(Micros(d))),
            _ => {
                w.push(EventId(id), AccountId(account), Some(Micros(d)));
            }
        }
    }
    w.resolve_accounts();
    w
}

fn workload(per_event: bool) -> Workload {
    let durations = if per_event {
        Durations::PerEvent(Vec::new())
    } else {
        Durations::Fixed(Micros(3))
    };
    Workload::with_durations(Source::Live("t".into()), durations)
}

fn assert_same(fast: &Workload, slow: &Workload) {
    let accounts = |w: &Workload| w.indexes().map(|e| w.account_of(e)).collect::<Vec<_>>();
    assert_eq!(accounts(fast), accounts(slow));
    assert_eq!(fast.account_ids(), slow.account_ids());
    assert_eq!(fast.shape(), slow.shape());
    assert_eq!(fast.shape(), slow.shape_of(|_| true));
    assert_eq!(fast.fingerprint(), format!("{:016x}", slow.hash_events()));
    assert_eq!(fast.fingerprint(), slow.fingerprint());
}

/// Account ids: small and dense, beyond the lookup's floor (a sparse table), or past 32 bits.
fn account() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..12,
        1 => Just(u64::from(u32::MAX)),
        1 => (AccountLookup::FLOOR as u64)..(AccountLookup::FLOOR as u64 + 4),
        1 => (1u64 << 32)..(1u64 << 32) + 3,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn resolving_raw_ids_equals_pushing_each_event(
        events in proptest::collection::vec((0u64..40, account(), 0u64..4), 0..60),
        per_event in any::<bool>(),
    ) {
        assert_same(&raw(&events, per_event), &pushed(&events, per_event));
    }
}

#[test]
fn a_large_dense_workload_resolves_through_the_table() {
    // More events than the floor, ids up to the event count: the dense table, chains counted.
    let n = AccountLookup::FLOOR as u64 + 10;
    let mut x = 7u64;
    let events: Vec<(u64, u64, u64)> = (1..=n)
        .map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (i, (x >> 33) % n, 0)
        })
        .collect();
    let fast = raw(&events, false);
    assert!(
        fast.shape.get().is_some(),
        "the shape came with the resolving pass"
    );
    assert_same(&fast, &pushed(&events, false));
}

#[test]
fn fingerprints_are_those_of_earlier_versions() {
    // Computed by eventbench e276524 (`run --json`), before the loader hashed on its way.
    let load = |text: &str| load_reader(text.as_bytes(), Path::new("in.csv"), Micros(1_000_000));
    let w = load("event_id,account_id\n1,10\n2,20\n3,10\n5,4294967295\n").unwrap();
    assert_eq!(w.fingerprint(), "2f5d42f90056d2ea");
    let w = load("event_id,account_id,duration_us\n1,10,5\n2,20,7\n3,10,5\n").unwrap();
    assert_eq!(w.fingerprint(), "9d83a5d1d6c9248c");
}

#[test]
fn a_push_or_new_durations_forget_the_fingerprint() {
    let mut w = raw(&[(1, 5, 1), (2, 6, 1)], true);
    let before = w.fingerprint();
    w.push(EventId(3), AccountId(5), Some(Micros(1)));
    let grown = w.fingerprint();
    assert_ne!(grown, before);
    assert_eq!(grown, format!("{:016x}", w.hash_events()));
    w.replace_durations(Durations::PerEvent(vec![Micros(2); 3]));
    assert_eq!(w.fingerprint(), format!("{:016x}", w.hash_events()));
    assert_ne!(w.fingerprint(), grown);
}
