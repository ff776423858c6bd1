//! The order check: what actually happened, judged independently of any scheduler.
//!
//! It reads only the workload (arrival order per account) and the records (start and end of
//! each event), so a scheduler bug cannot hide itself. Checks: every event ran exactly once;
//! within an account, each event started only after the previous one (in arrival order)
//! ended; every handler ran at least its own duration; and the largest number of events in
//! flight at once.

use super::record::{Record, Records, SortedSpans, NOT_RUN};
use crate::types::{AccountId, EventId, EventIdx};
use crate::workload::Workload;
use serde::Serialize;

/// How many violations are kept as examples for the report.
const EXAMPLES: usize = 10;

/// One broken rule, with enough detail to find it in the `--log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// `later` started before `earlier` (same account, earlier arrival) had finished.
    OutOfOrder {
        account: AccountId,
        earlier: EventId,
        later: EventId,
        earlier_end_us: u64,
        later_start_us: u64,
    },
    /// `later` ran although `earlier` (same account, earlier arrival) never did.
    RanAfterGap {
        account: AccountId,
        missing: EventId,
        later: EventId,
    },
    /// The handler returned before its own duration had passed.
    Short {
        event: EventId,
        took_us: u64,
        duration_us: u64,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::OutOfOrder {
                account,
                earlier,
                later,
                earlier_end_us,
                later_start_us,
            } => write!(
                f,
                "account {}: event {} started at {later_start_us}us, before event {} (earlier in \
                 the queue) ended at {earlier_end_us}us",
                account.0, later.0, earlier.0
            ),
            Violation::RanAfterGap {
                account,
                missing,
                later,
            } => write!(
                f,
                "account {}: event {} ran although event {} (earlier in the queue) never did",
                account.0, later.0, missing.0
            ),
            Violation::Short {
                event,
                took_us,
                duration_us,
            } => write!(
                f,
                "event {}: handler took {took_us}us, less than its duration {duration_us}us",
                event.0
            ),
        }
    }
}

/// The verdict on one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OrderCheck {
    /// Events of an account that did not run strictly after their predecessor.
    pub ordering_violations: u64,
    /// Events that never ran.
    pub unprocessed: u64,
    /// Events that ran more than once.
    pub duplicates: u64,
    /// Handlers that returned before their own duration.
    pub short_handlers: u64,
    /// Most events in flight at one instant.
    pub max_in_flight: u64,
    /// The first few violations found.
    pub examples: Vec<Violation>,
}

impl OrderCheck {
    /// True when order held, nothing ran twice or short, and (unless the run was interrupted)
    /// everything ran.
    pub fn passed(&self, interrupted: bool) -> bool {
        self.ordering_violations == 0
            && self.duplicates == 0
            && self.short_handlers == 0
            && (interrupted || self.unprocessed == 0)
    }

    /// True while fewer than [`EXAMPLES`] violations are kept.
    fn wants_examples(&self) -> bool {
        self.examples.len() < EXAMPLES
    }

    /// Counts (and notes) event `e` if its handler returned before its duration was over.
    fn check_took(&mut self, w: &Workload, e: EventIdx, r: &Record) {
        let took = r.end.saturating_sub(r.start);
        if took < w.duration(e) {
            self.short_handlers += 1;
            self.note(Violation::Short {
                event: w.event_id(e),
                took_us: took.0,
                duration_us: w.duration(e).0,
            });
        }
    }

    fn note(&mut self, v: Violation) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(v);
        }
    }
}

/// Verifies `records` against the arrival order of `w`, including the most events in flight.
pub fn check_order_and_in_flight(w: &Workload, records: &Records) -> OrderCheck {
    let mut v = check_order(w, records);
    v.max_in_flight = max_in_flight(records.clone());
    v
}

/// Every check but the in-flight count (`max_in_flight` is left 0): see [`max_in_flight`].
pub fn check_order(w: &Workload, records: &Records) -> OrderCheck {
    // The per-account state is the pass's one cache miss an event: 8 bytes an account while
    // every end fits in 32 bits (runs under 71 minutes) keep twice as many in cache as 16.
    if records.ends_are_narrow() {
        check_order_with::<u32>(w, records)
    } else {
        check_order_with::<u64>(w, records)
    }
}

/// A time as the order check keeps it per account; `MAX` marks a gap (an event missing).
trait End: Copy + Ord {
    const GAP: Self;
    /// `t`, which the caller knows fits.
    fn of(t: u64) -> Self;
    fn us(self) -> u64;
}

impl End for u32 {
    const GAP: Self = u32::MAX;
    fn of(t: u64) -> Self {
        t as u32
    }
    fn us(self) -> u64 {
        u64::from(self)
    }
}

impl End for u64 {
    const GAP: Self = NOT_RUN;
    fn of(t: u64) -> Self {
        t
    }
    fn us(self) -> u64 {
        self
    }
}

/// [`check_order`] with the ends kept as `T`: every end that ran must fit in it below `T::GAP`.
fn check_order_with<T: End>(w: &Workload, records: &Records) -> OrderCheck {
    let mut out = OrderCheck {
        duplicates: records.duplicates(),
        ..OrderCheck::default()
    };
    // Per account: the latest end of its events so far, or GAP once one was missing (for
    // good: every later event of the account ran after a gap). Nothing else, so a table of
    // ten million accounts stays 40 MB: a violation finds the events it names by a scan.
    let gap = T::GAP;
    let mut prev = crate::prefetch::table(w.account_count(), T::of(0));
    for e in w.indexes() {
        w.prefetch_ahead(&prev, e);
        let a = w.account_of(e);
        let prev_end = &mut prev[a.0 as usize];
        let Some(r) = records.get(e) else {
            out.unprocessed += 1;
            *prev_end = gap;
            continue;
        };
        if *prev_end == gap {
            out.ordering_violations += 1;
            if out.wants_examples() {
                out.note(Violation::RanAfterGap {
                    account: w.account_id(a),
                    missing: w.event_id(first_missing(w, records, e)),
                    later: w.event_id(e),
                });
            }
            continue;
        }
        if r.start.0 < prev_end.us() {
            out.ordering_violations += 1;
            if out.wants_examples() {
                out.note(Violation::OutOfOrder {
                    account: w.account_id(a),
                    earlier: w.event_id(previous(w, e)),
                    later: w.event_id(e),
                    earlier_end_us: prev_end.us(),
                    later_start_us: r.start.0,
                });
            }
        }
        out.check_took(w, e, &r);
        *prev_end = (*prev_end).max(T::of(r.end.0));
    }
    out
}

/// The event of `e`'s account just before it in arrival order (a violation's `earlier`;
/// the account has one, or its state would still be 0 and nothing could start before it).
#[cold]
fn previous(w: &Workload, e: EventIdx) -> EventIdx {
    let a = w.account_of(e);
    (0..e.0)
        .rev()
        .map(EventIdx)
        .find(|&p| w.account_of(p) == a)
        .expect("a violation has an earlier event of its account")
}

/// The first event of `e`'s account (in arrival order, before `e`) that never ran: the gap
/// that every later event of the account ran after.
#[cold]
fn first_missing(w: &Workload, records: &Records, e: EventIdx) -> EventIdx {
    let a = w.account_of(e);
    (0..e.0)
        .map(EventIdx)
        .find(|&p| w.account_of(p) == a && records.get(p).is_none())
        .expect("a gap has a missing event of its account")
}

/// The most events running at one instant (an event ending at t does not overlap one
/// starting at t). Consumes the records: the sweep sorts their time columns in place.
pub fn max_in_flight(records: Records) -> u64 {
    match records.into_sorted_spans() {
        SortedSpans::Narrow(starts, ends) => max_overlap(&starts, &ends),
        SortedSpans::Shifted(starts, took) => max_overlap_shifted(&starts, took),
        SortedSpans::Wide(starts, ends) => max_overlap(&starts, &ends),
    }
}

/// [`max_overlap`] of intervals that all last `took`: the ends are the sorted starts shifted.
fn max_overlap_shifted(starts: &[u32], took: u32) -> u64 {
    let mut ended = 0usize;
    let mut best = 0u64;
    for (k, &s) in starts.iter().enumerate() {
        while ended < starts.len() && starts[ended] + took <= s {
            ended += 1;
        }
        best = best.max((k + 1).saturating_sub(ended) as u64);
    }
    best
}

/// The most intervals open at one instant, from their sorted starts and sorted ends (one
/// ending at t does not overlap one starting at t): a single sweep over both.
pub fn max_overlap<T: Ord>(starts: &[T], ends: &[T]) -> u64 {
    let mut ended = 0usize;
    let mut best = 0u64;
    for (k, s) in starts.iter().enumerate() {
        while ended < ends.len() && ends[ended] <= *s {
            ended += 1;
        }
        best = best.max((k + 1).saturating_sub(ended) as u64);
    }
    best
}

#[cfg(test)]
mod equivalence_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LaneId, Micros};
    use crate::workload::Source;

    fn two_accounts() -> Workload {
        let mut w = Workload::new(Source::Live("t".into()), Micros(10));
        for (id, acct) in [(1, 1), (2, 2), (3, 1)] {
            w.push(EventId(id), AccountId(acct), None);
        }
        w
    }

    fn set(r: &mut Records, e: u32, start: u64, end: u64) {
        r.set(EventIdx(e), Micros(start), Micros(end), LaneId(0));
    }

    #[test]
    fn equal_handler_times_count_what_is_in_flight() {
        // Three events of 5 µs: [0,5), [3,8), [5,10): two at once at most (5 ends as 5 starts).
        let mut r = Records::batch(3);
        for (e, start) in [(0, 0), (1, 3), (2, 5)] {
            r.set(EventIdx(e), Micros(start), Micros(start + 5), LaneId(0));
        }
        assert_eq!(max_in_flight(r), 2);
    }

    #[test]
    fn ends_past_32_bits_are_checked_as_closely() {
        // Event 1 of account 1 ends past u32::MAX µs; event 3 starts 1 µs too early, then
        // exactly on time. Both widths of the per-account state must judge alike.
        let w = two_accounts();
        let late = u64::from(u32::MAX) + 100;
        for (start, violations) in [(late - 1, 1), (late, 0)] {
            let mut r = Records::batch(3);
            set(&mut r, 0, late - 10, late);
            set(&mut r, 1, 0, 10);
            set(&mut r, 2, start, start + 10);
            assert!(!r.ends_are_narrow());
            let v = check_order(&w, &r);
            assert_eq!(v.ordering_violations, violations, "{v:?}");
        }
        let mut narrow = Records::batch(3);
        set(&mut narrow, 0, 0, 10);
        set(&mut narrow, 1, 0, 10);
        set(&mut narrow, 2, 9, 19);
        assert!(narrow.ends_are_narrow());
        let v = check_order(&w, &narrow);
        assert_eq!(v.ordering_violations, 1);
        assert!(v.examples[0].to_string().contains("ended at 10us"), "{v:?}");
    }

    #[test]
    fn a_correct_schedule_passes() {
        let w = two_accounts();
        let mut r = Records::batch(3);
        set(&mut r, 0, 0, 10);
        set(&mut r, 1, 0, 10);
        set(&mut r, 2, 10, 20);
        let v = check_order_and_in_flight(&w, &r);
        assert!(v.passed(false), "{v:?}");
        assert_eq!(v.max_in_flight, 2);
    }

    #[test]
    fn overlap_inside_an_account_is_caught() {
        let w = two_accounts();
        let mut r = Records::batch(3);
        set(&mut r, 0, 0, 10);
        set(&mut r, 1, 0, 10);
        set(&mut r, 2, 5, 15);
        let v = check_order_and_in_flight(&w, &r);
        assert_eq!(v.ordering_violations, 1);
        assert!(!v.passed(false));
        assert!(v.examples[0].to_string().contains("before event 1"));
    }

    #[test]
    fn reversed_order_is_caught() {
        let w = two_accounts();
        let mut r = Records::batch(3);
        set(&mut r, 2, 0, 10);
        set(&mut r, 1, 0, 10);
        set(&mut r, 0, 10, 20);
        assert_eq!(check_order_and_in_flight(&w, &r).ordering_violations, 1);
    }

    #[test]
    fn running_past_a_missing_event_is_caught() {
        let w = two_accounts();
        let mut r = Records::batch(3);
        set(&mut r, 1, 0, 10);
        set(&mut r, 2, 0, 10);
        let v = check_order_and_in_flight(&w, &r);
        assert_eq!((v.unprocessed, v.ordering_violations), (1, 1));
        assert!(
            !v.passed(true),
            "even an interrupted run must not skip ahead"
        );
    }

    #[test]
    fn short_handlers_and_duplicates_are_caught() {
        let w = two_accounts();
        let mut r = Records::batch(3);
        set(&mut r, 0, 0, 9);
        set(&mut r, 1, 0, 10);
        set(&mut r, 1, 0, 10);
        set(&mut r, 2, 10, 20);
        let v = check_order_and_in_flight(&w, &r);
        assert_eq!((v.short_handlers, v.duplicates), (1, 1));
        assert!(!v.passed(false));
    }

    #[test]
    fn an_interrupted_prefix_passes() {
        let w = two_accounts();
        let mut r = Records::batch(3);
        set(&mut r, 0, 0, 10);
        let v = check_order_and_in_flight(&w, &r);
        assert_eq!(v.unprocessed, 2);
        assert!(v.passed(true));
        assert!(!v.passed(false));
    }
}
