//! The order check against the version that kept each account's last event beside its end
//! (e276524): same counts and the same example violations, on random runs with gaps,
//! overlaps, short handlers and duplicates, on both widths of the per-account state.

use super::*;
use crate::types::{AccountId, LaneId, Micros};
use crate::workload::{Durations, Source};
use proptest::prelude::*;

/// The order check as it was, with the last event kept per account (16 bytes an account).
fn reference(w: &Workload, records: &Records) -> OrderCheck {
    let mut out = OrderCheck {
        duplicates: records.duplicates(),
        ..OrderCheck::default()
    };
    let mut prev = vec![(0u64, EventIdx(0)); w.account_count()];
    for e in w.indexes() {
        let a = w.account_of(e).0 as usize;
        let (prev_end, prev_event) = &mut prev[a];
        let Some(r) = records.get(e) else {
            out.unprocessed += 1;
            if *prev_end != NOT_RUN {
                *prev_end = NOT_RUN;
                *prev_event = e;
            }
            continue;
        };
        let account = w.account_id(w.account_of(e));
        if *prev_end == NOT_RUN {
            out.ordering_violations += 1;
            out.note(Violation::RanAfterGap {
                account,
                missing: w.event_id(*prev_event),
                later: w.event_id(e),
            });
            continue;
        }
        if r.start.0 < *prev_end {
            out.ordering_violations += 1;
            out.note(Violation::OutOfOrder {
                account,
                earlier: w.event_id(*prev_event),
                later: w.event_id(e),
                earlier_end_us: *prev_end,
                later_start_us: r.start.0,
            });
        }
        out.check_took(w, e, &r);
        *prev_end = (*prev_end).max(r.end.0);
        *prev_event = e;
    }
    out
}

/// One event: its account, whether it ran (and how often), its start, how long it took and
/// its own duration.
type Event = (u64, u8, u64, u64, u64);

fn run(events: &[Event], offset: u64) -> (Workload, Records) {
    let mut w = Workload::with_durations(Source::Live("t".into()), Durations::PerEvent(vec![]));
    let mut r = Records::batch(events.len());
    for (i, &(account, runs, start, took, duration)) in events.iter().enumerate() {
        let e = w.push(
            EventId(100 + i as u64),
            AccountId(account),
            Some(Micros(duration)),
        );
        for _ in 0..runs {
            let start = start + offset;
            r.set(e, Micros(start), Micros(start + took), LaneId(0));
        }
    }
    (w, r)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_check_judges_as_the_reference_did(
        events in proptest::collection::vec(
            (0u64..4, prop_oneof![1 => Just(0u8), 8 => Just(1u8), 1 => Just(2u8)],
             0u64..40, 0u64..12, 0u64..8),
            0..60,
        ),
        wide in any::<bool>(),
    ) {
        let offset = if wide { u64::from(u32::MAX) } else { 0 };
        let (w, r) = run(&events, offset);
        let ran = events.iter().any(|e| e.1 > 0);
        prop_assert_eq!(r.ends_are_narrow(), !(wide && ran));
        prop_assert_eq!(check_order(&w, &r), reference(&w, &r));
    }
}
