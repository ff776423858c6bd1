//! Unit tests of the judge: each kind of violation found in a log, with its lines.

use super::*;
use crate::judge::foreign_log::LogFormat;
use crate::judge::time::Resolution;
use crate::types::{AccountId, Micros};
use crate::workload::Source;

/// Events 1..=4: accounts 1, 2, 1, 1; 10 µs each.
fn workload() -> Workload {
    let mut w = Workload::new(Source::Live("t".into()), Micros(10));
    for (id, a) in [(1, 1), (2, 2), (3, 1), (4, 1)] {
        w.push(EventId(id), AccountId(a), None);
    }
    w
}

fn summary(has_start: bool, has_end: bool, step: i64) -> LogSummary {
    let mut resolution = Resolution::coarsest();
    resolution.see(step);
    LogSummary {
        path: "log".into(),
        format: LogFormat::Csv,
        lines: 0,
        unmatched: 0,
        unmatched_examples: Vec::new(),
        has_start,
        has_end,
        absolute: false,
        resolution,
    }
}

/// Entries `(event, account, start, end)` on lines 2, 3, ...
fn judge(rows: &[(u64, u64, Option<i64>, Option<i64>)], log: &LogSummary) -> Findings {
    let w = workload();
    let mut j = Judge::new(&w);
    for (n, &(event, account, start, end)) in rows.iter().enumerate() {
        j.add(Entry {
            line: n as u64 + 2,
            event: EventId(event),
            account: AccountId(account),
            start,
            end,
        });
    }
    j.finish(log)
}

fn verdict(f: &Findings) -> (u64, u64, u64, u64, u64, u64) {
    (
        f.lost,
        f.duplicates,
        f.unknown,
        f.reordered,
        f.overlaps,
        f.short_handlers,
    )
}

#[test]
fn a_correct_log_passes_with_its_wall_time() {
    let rows = [
        (1, 1, Some(0), Some(10)),
        (2, 2, Some(0), Some(10)),
        (3, 1, Some(10), Some(20)),
        (4, 1, Some(20), Some(31)),
    ];
    let f = judge(&rows, &summary(true, true, 1));
    assert_eq!(verdict(&f), (0, 0, 0, 0, 0, 0));
    assert_eq!(f.processed, 4);
    assert_eq!((f.wall_us, f.max_in_flight), (Some(31), 2));
    assert_eq!(f.overshoot.percentiles().max, 1);
}

#[test]
fn reordering_by_time_or_by_line_is_caught() {
    let timed = [
        (1, 1, None, Some(10)),
        (4, 1, None, Some(20)),
        (3, 1, None, Some(30)),
        (2, 2, None, Some(10)),
    ];
    let f = judge(&timed, &summary(false, true, 1));
    assert_eq!(f.reordered, 1);
    assert!(f.violations[0].contains("event 4 (line 3) was processed before event 3 (line 4)"));
    // Without times, line order is completion order.
    let untimed = [
        (3, 1, None, None),
        (1, 1, None, None),
        (4, 1, None, None),
        (2, 2, None, None),
    ];
    let f = judge(&untimed, &summary(false, false, 1));
    assert_eq!(f.reordered, 1);
    assert_eq!(f.wall_us, None);
}

#[test]
fn equal_times_at_coarse_resolution_fall_back_to_lines() {
    // Whole seconds: events 3 and 4 end in the same second; their lines keep the order.
    let rows = [
        (1, 1, None, Some(1_000_000)),
        (3, 1, None, Some(2_000_000)),
        (4, 1, None, Some(2_000_000)),
        (2, 2, None, Some(1_000_000)),
    ];
    let f = judge(&rows, &summary(false, true, 1_000_000));
    assert_eq!(verdict(&f), (0, 0, 0, 0, 0, 0));
    // Estimated start: the first end minus one processing time (10 µs).
    assert_eq!(f.wall_us, Some(1_000_010));
}

#[test]
fn overlaps_count_only_beyond_the_resolution() {
    let rows = [
        (1, 1, Some(0), Some(15)),
        (3, 1, Some(5), Some(25)),
        (4, 1, Some(25), Some(35)),
        (2, 2, Some(0), Some(10)),
    ];
    let f = judge(&rows, &summary(true, true, 1));
    assert_eq!(f.overlaps, 1);
    assert!(
        f.violations[0].contains("started 10us before event 1"),
        "{:?}",
        f.violations
    );
    // At a 100 µs resolution a 10 µs overlap (and a 10 µs handler) cannot be told apart.
    let f = judge(&rows, &summary(true, true, 100));
    assert_eq!((f.overlaps, f.short_handlers), (0, 0));
}

#[test]
fn lost_duplicated_unknown_and_short() {
    let rows = [
        (1, 1, Some(0), Some(10)),
        (1, 1, Some(10), Some(20)),
        (2, 7, Some(0), Some(10)),
        (99, 1, Some(0), Some(10)),
        (3, 1, Some(20), Some(25)),
    ];
    let f = judge(&rows, &summary(true, true, 1));
    // Event 2 was logged for the wrong account: unknown, and still lost.
    assert_eq!(verdict(&f), (2, 1, 2, 0, 0, 1));
    assert_eq!(
        f.duplicate_examples[0],
        "event 1 of account 1: lines 2 and 3"
    );
    assert!(f.unknown_examples[0].contains("belongs to account 2"));
    assert!(f.unknown_examples[1].contains("is not in the workload"));
    assert_eq!(
        f.lost_examples,
        ["event 2 of account 2", "event 4 of account 1"]
    );
}

#[test]
fn sent_times_start_the_wall_clock_and_the_latency() {
    let w = workload();
    let mut log = summary(true, true, 1);
    log.absolute = true;
    let base = 1_800_000_000_000_000;
    let mut j = Judge::new(&w);
    for (n, (id, a, s)) in [(1, 1, 100), (2, 2, 100), (3, 1, 110), (4, 1, 120)]
        .into_iter()
        .enumerate()
    {
        j.add(Entry {
            line: n as u64 + 2,
            event: EventId(id),
            account: AccountId(a),
            start: Some(base + s),
            end: Some(base + s + 10),
        });
    }
    j.accepted(&[(1, base), (2, base + 50), (3, base + 60), (4, base + 70)]);
    let f = j.finish(&log);
    assert_eq!(f.wall_us, Some(130));
    assert_eq!(f.latency.percentiles().max, 110);
    assert!(f.wall_basis.contains("--sent"));
}

mod agreement {
    use super::*;
    use crate::engine::record::Records;
    use crate::judge::foreign_log::{read_bytes, LogSpec};
    use crate::types::LaneId;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// On exact logs (our CSV) with every event present, the judge and the engine's own
        /// verifier, written separately, count the same violations and short handlers.
        #[test]
        fn the_judge_agrees_with_the_engine_verifier(
            events in proptest::collection::vec((1u64..4, 0u64..40, 0u64..15), 1..30),
        ) {
            let mut w = Workload::new(Source::Live("p".into()), Micros(5));
            let mut records = Records::batch(events.len());
            for (i, &(account, start, took)) in events.iter().enumerate() {
                let e = w.push(EventId(i as u64 + 1), AccountId(account), None);
                records.set(e, Micros(start), Micros(start + took), LaneId(0));
            }
            let engine = crate::engine::order_check::check_order(&w, &records);
            let mut csv = Vec::new();
            crate::report::processed_log::write_rows(&mut csv, &w, &records).unwrap();
            let spec = LogSpec { pattern: None, time: "auto".parse().unwrap() };
            let mut judge = Judge::new(&w);
            let summary = read_bytes(&csv, "p".as_ref(), &spec, |e| judge.add(e)).unwrap();
            let f = judge.finish(&summary);
            prop_assert_eq!(f.reordered + f.overlaps, engine.ordering_violations);
            prop_assert_eq!(f.short_handlers, engine.short_handlers);
            prop_assert_eq!((f.lost, f.duplicates, f.unknown), (0, 0, 0));
        }
    }
}

#[test]
fn a_restarted_process_may_run_again_only_the_event_its_account_was_at() {
    let w = workload();
    let mut j = Judge::new(&w);
    let entry = |line, event, account, start: i64| Entry {
        line,
        event: EventId(event),
        account: AccountId(account),
        start: Some(start),
        end: Some(start + 10),
    };
    // The first process ran events 1, 2 and 3 (account 1 was at 3) from its time 0.
    for (n, (e, a)) in [(1, 1), (2, 2), (3, 1)].into_iter().enumerate() {
        j.add(entry(n as u64 + 2, e, a, 10 * n as i64));
    }
    j.name_first("a".into());
    j.next_process(4, "b".into());
    // The second runs 3 again, then 4, then 1 and 3 once more, also from its time 0.
    let shift = j.latest_time().unwrap() + 1;
    for (n, (e, a)) in [(3, 1), (4, 1), (1, 1), (3, 1)].into_iter().enumerate() {
        j.add(entry(n as u64 + 2, e, a, shift + 10 * n as i64));
    }
    let f = j.finish(&summary(true, true, 1));
    assert_eq!(f.redelivered, 1);
    assert_eq!(verdict(&f), (0, 2, 0, 0, 0, 0));
    assert_eq!(
        f.duplicate_examples,
        vec![
            "event 1 of account 1: a line 2 and b line 4",
            "event 3 of account 1: a line 4 and b line 5"
        ]
    );
}
