//! What happened in a run: when each event entered the queue, started and ended, and on which
//! lane. Executors fill it; the verifier and the reports read it.

mod columns;

use super::timer::TimerMode;
use super::ClockKind;
use crate::types::{EventIdx, LaneId, Micros};
use crate::workload::{IdMap, Workload};
use columns::{Starts, Took};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Marks an event that never ran (an interrupted run, or a bug the verifier must catch).
pub const NOT_RUN: u64 = u64::MAX;

/// Per-event timings, columnar and indexed by [`EventIdx`]; times are µs since the run began.
#[derive(Clone, Debug, Default)]
pub struct Records {
    start: Starts,
    /// `end - start` in µs (see [`Took`]); a handler that ran 71 minutes or more stores
    /// `u32::MAX` there and its exact time in `long`.
    took: Took,
    long: IdMap<u32, u64>,
    lane: Lanes,
    /// `None` when every event entered the queue at time 0 (a batch run).
    arrival: Option<Vec<u64>>,
    /// Times an event was recorded again after it had already run (must stay 0).
    duplicates: u64,
}

/// Which lane ran each event.
#[derive(Clone, Debug)]
enum Lanes {
    /// One lane id per event.
    Each(Vec<u32>),
    /// Every account had a lane of its own, numbered by account index ([`Records::own_lanes`]):
    /// the workload knows each event's lane, so no column (4 bytes an event: 400 MB at 100
    /// million events).
    OfAccount,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes::Each(Vec::new())
    }
}

/// One event's timings (its lane: [`Records::lane`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub arrival: Micros,
    pub start: Micros,
    pub end: Micros,
}

impl Records {
    /// Slots for `events` events that all entered the queue at time 0.
    pub fn batch(events: usize) -> Self {
        Records {
            start: Starts::not_run(events),
            took: Took::default(),
            long: IdMap::default(),
            lane: Lanes::Each(vec![0; events]),
            arrival: None,
            duplicates: 0,
        }
    }

    /// As [`Records::batch`], for a run where each account has a lane of its own numbered by
    /// its index: fill with [`Records::set_own_lane`].
    pub fn own_lanes(events: usize) -> Self {
        Records {
            lane: Lanes::OfAccount,
            ..Records::batch(0)
        }
        .with_start(Starts::not_run(events))
    }

    fn with_start(self, start: Starts) -> Self {
        Records { start, ..self }
    }

    /// Empty records for events that will arrive over time.
    pub fn live() -> Self {
        Records {
            arrival: Some(Vec::new()),
            ..Records::default()
        }
    }

    /// Adds a slot for an event that arrived at `at` (live runs).
    pub fn push_arrival(&mut self, at: Micros) {
        self.start.push_not_run();
        self.took.push_not_run();
        self.lanes_mut().push(0);
        self.arrival
            .get_or_insert_with(|| vec![0; self.start.len() - 1])
            .push(at.0);
    }

    /// Records a finished event; a second record for the same event is counted, not kept.
    pub fn set(&mut self, e: EventIdx, start: Micros, end: Micros, lane: LaneId) {
        if self.set_times(e, start, end) {
            self.lanes_mut()[e.0 as usize] = lane.0;
        }
    }

    /// [`Records::set`] for records of [`Records::own_lanes`]: the lane is the account's.
    #[inline]
    pub fn set_own_lane(&mut self, e: EventIdx, start: Micros, end: Micros) {
        debug_assert!(matches!(self.lane, Lanes::OfAccount));
        self.set_times(e, start, end);
    }

    /// The times of [`Records::set`]; false for a duplicate.
    #[inline]
    fn set_times(&mut self, e: EventIdx, start: Micros, end: Micros) -> bool {
        let i = e.0 as usize;
        if self.start.get(i) != NOT_RUN {
            self.duplicates += 1;
            return false;
        }
        self.start.set(i, start.0);
        let took = end.0.saturating_sub(start.0);
        let short = u32::try_from(took).unwrap_or(u32::MAX);
        self.took.set(i, short, &self.start);
        if short == u32::MAX {
            self.long.insert(e.0, took);
        }
        true
    }

    /// The lane column; records of [`Records::own_lanes`] have none (a caller's bug).
    fn lanes_mut(&mut self) -> &mut Vec<u32> {
        match &mut self.lane {
            Lanes::Each(lanes) => lanes,
            Lanes::OfAccount => panic!("records of own lanes are set with set_own_lane"),
        }
    }

    /// The lane that ran event `e` of `w` (whether it ran or not: see [`Records::get`]).
    pub fn lane(&self, e: EventIdx, w: &Workload) -> LaneId {
        match &self.lane {
            Lanes::Each(lanes) => LaneId(lanes[e.0 as usize]),
            Lanes::OfAccount => LaneId(w.account_of(e).0),
        }
    }

    /// Forgets that an event ran: for events the executor handed to a handler that passed
    /// them over without doing anything (a stopped account), which must count as unprocessed.
    pub fn clear(&mut self, e: EventIdx) {
        let i = e.0 as usize;
        self.start.set(i, NOT_RUN);
        self.took.clear(i);
        self.long.remove(&e.0);
    }

    fn end_of(&self, i: usize) -> u64 {
        let took = match self.took.get(i) {
            u32::MAX => self.long[&(i as u32)],
            t => u64::from(t),
        };
        self.start.get(i) + took
    }

    pub fn len(&self) -> usize {
        self.start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The record of an event, or `None` if it never ran.
    pub fn get(&self, e: EventIdx) -> Option<Record> {
        let i = e.0 as usize;
        let start = self.start.get(i);
        (start != NOT_RUN).then(|| Record {
            arrival: Micros(self.arrival.as_ref().map_or(0, |a| a[i])),
            start: Micros(start),
            end: Micros(self.end_of(i)),
        })
    }

    /// When an event entered the queue (time 0 in batch runs), whether it ran or not.
    pub fn arrival_of(&self, e: EventIdx) -> Micros {
        Micros(self.arrival.as_ref().map_or(0, |a| a[e.0 as usize]))
    }

    /// True when events arrived over time (a live run): each has its own arrival.
    pub fn has_arrivals(&self) -> bool {
        self.arrival.is_some()
    }

    /// The earliest arrival (0 in batch runs and when nothing arrived).
    pub fn first_arrival(&self) -> Micros {
        Micros(
            self.arrival
                .as_ref()
                .and_then(|a| a.iter().copied().min())
                .unwrap_or(0),
        )
    }

    /// True when every event that ran ended before `u32::MAX` µs (71 minutes) and started in
    /// the narrow column: then its times fit in 4 bytes each.
    pub fn ends_are_narrow(&self) -> bool {
        matches!(self.start, Starts::Narrow(_))
            && self.long.is_empty()
            && (0..self.start.len())
                .all(|i| self.start.get(i) == NOT_RUN || self.end_of(i) < u64::from(u32::MAX))
    }

    /// Start and end times of the events that ran, for sweeps over the timeline.
    pub fn spans(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0..self.start.len())
            .filter(|&i| self.start.get(i) != NOT_RUN)
            .map(|i| (self.start.get(i), self.end_of(i)))
    }
}

/// The start and end times of the events that ran, each list sorted.
#[derive(Debug, PartialEq, Eq)]
pub enum SortedSpans {
    /// Every end fits in 32 bits (runs shorter than 71 minutes): sorted in the memory of the
    /// start and `took` columns, with none of their own.
    Narrow(Vec<u32>, Vec<u32>),
    /// As `Narrow`, when every event that ran took the same time: the sorted starts, and that
    /// time (each end is a start plus it, so the ends are sorted too, with no list of their own).
    Shifted(Vec<u32>, u32),
    Wide(Vec<u64>, Vec<u64>),
}

impl Records {
    /// Start and end times of the events that ran, each list sorted; consumes the records so
    /// the sort reuses their memory (at 100 million events separate lists would add 1.6 GB to
    /// the run's peak).
    pub fn into_sorted_spans(mut self) -> SortedSpans {
        self.lane = Lanes::default();
        let narrow = self.ends_are_narrow();
        match self {
            Records {
                start: Starts::Narrow(mut start),
                took: Took::Same(took),
                ..
            } if narrow => {
                start.retain(|&s| s != u32::MAX);
                start.sort_unstable();
                SortedSpans::Shifted(start, took.unwrap_or(0))
            }
            Records {
                start: Starts::Narrow(mut start),
                took: Took::Each(mut end),
                ..
            } if narrow => {
                // In place: slot `ran` is written only after slot `i >= ran` was read.
                let mut ran = 0;
                for i in 0..start.len() {
                    if start[i] != u32::MAX {
                        end[ran] = start[i] + end[i];
                        ran += 1;
                    }
                }
                end.truncate(ran);
                start.retain(|&s| s != u32::MAX);
                start.sort_unstable();
                end.sort_unstable();
                SortedSpans::Narrow(start, end)
            }
            records => {
                let mut end: Vec<u64> = records.spans().map(|(_, e)| e).collect();
                let mut start = records.start.into_wide();
                start.retain(|&s| s != NOT_RUN);
                start.sort_unstable();
                end.sort_unstable();
                SortedSpans::Wide(start, end)
            }
        }
    }
}

/// Records that several tasks fill at once, each event's slot by exactly one task: relaxed
/// atomic stores, which cost what plain stores cost, and no lock. [`SharedRecords::into_records`]
/// turns them into [`Records`] once every task is done (the join orders the stores before it).
pub struct SharedRecords {
    start: Vec<AtomicU64>,
    took: Vec<AtomicU32>,
    lane: Vec<AtomicU32>,
    long: Mutex<IdMap<u32, u64>>,
}

impl SharedRecords {
    pub fn new(events: usize) -> Self {
        SharedRecords {
            start: (0..events).map(|_| AtomicU64::new(NOT_RUN)).collect(),
            took: (0..events).map(|_| AtomicU32::new(0)).collect(),
            lane: (0..events).map(|_| AtomicU32::new(0)).collect(),
            long: Mutex::new(IdMap::default()),
        }
    }

    /// As [`Records::set`], but a second record of an event overwrites the first; duplicates
    /// are counted in [`SharedRecords::into_records`] instead (reading the slot first would
    /// cost a cache miss per event).
    pub fn set(&self, e: EventIdx, start: Micros, end: Micros, lane: LaneId) {
        let i = e.0 as usize;
        self.start[i].store(start.0, Relaxed);
        let took = end.0.saturating_sub(start.0);
        let short = u32::try_from(took).unwrap_or(u32::MAX);
        if short == u32::MAX {
            let mut long = crate::sync::lock(&self.long);
            long.insert(e.0, took);
        }
        self.took[i].store(short, Relaxed);
        self.lane[i].store(lane.0, Relaxed);
    }

    /// For records filled by position (slot `p` holds event `order[p]`): the records by event.
    /// Writing by position keeps one account's events in neighbouring slots during the run;
    /// this one pass after the clock stopped puts them back in arrival order.
    pub fn into_records_by(self, order: &[u32], set_calls: u64) -> Records {
        let by_position = self.into_records(set_calls);
        let mut records = Records::batch(order.len());
        records.duplicates = by_position.duplicates;
        for (p, &e) in order.iter().enumerate() {
            if let Some(r) = by_position.get(EventIdx(p as u32)) {
                let lane = match &by_position.lane {
                    Lanes::Each(lanes) => LaneId(lanes[p]),
                    Lanes::OfAccount => unreachable!("shared records have a lane column"),
                };
                records.set(EventIdx(e), r.start, r.end, lane);
            }
        }
        records
    }

    /// The records, given how many times [`SharedRecords::set`] was called: every call beyond
    /// one per event that ran is a duplicate.
    pub fn into_records(self, set_calls: u64) -> Records {
        let start: Vec<u64> = self.start.into_iter().map(AtomicU64::into_inner).collect();
        let ran = start.iter().filter(|&&s| s != NOT_RUN).count() as u64;
        Records {
            start: Starts::Wide(start),
            took: Took::Each(self.took.into_iter().map(AtomicU32::into_inner).collect()),
            long: crate::sync::into_inner(self.long),
            lane: Lanes::Each(self.lane.into_iter().map(AtomicU32::into_inner).collect()),
            arrival: None,
            duplicates: set_calls.saturating_sub(ran),
        }
    }
}

/// The outcome of one executor run, before verification and statistics.
#[derive(Clone, Debug)]
pub struct Execution {
    pub records: Records,
    /// From the run's start to the end of its last event (the makespan).
    pub wall: Micros,
    pub clock: ClockKind,
    /// True when the run was stopped early (Ctrl-C, shutdown) and some events never ran.
    pub interrupted: bool,
    /// How the real clock's sleeps ended, for real-clock runs on the precise timer.
    pub timer: Option<TimerMode>,
}

impl Execution {
    /// The same run told through other records (e.g. re-indexed against another workload):
    /// its wall time, clock, interruption and timer stay as they were.
    pub fn with_records(self, records: Records) -> Execution {
        Execution { records, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_record_of_an_event_is_a_duplicate() {
        let mut r = Records::batch(2);
        r.set(EventIdx(0), Micros(0), Micros(5), LaneId(1));
        r.set(EventIdx(0), Micros(6), Micros(9), LaneId(0));
        assert_eq!(r.duplicates(), 1);
        assert_eq!(r.get(EventIdx(0)).unwrap().end, Micros(5));
        assert_eq!(r.get(EventIdx(1)), None);
    }

    #[test]
    fn short_runs_sort_their_ends_in_the_took_column() {
        let mut r = Records::batch(3);
        r.set(EventIdx(0), Micros(7), Micros(9), LaneId(0));
        r.set(EventIdx(2), Micros(1), Micros(20), LaneId(1));
        assert_eq!(
            r.into_sorted_spans(),
            SortedSpans::Narrow(vec![1, 7], vec![9, 20])
        );
    }

    #[test]
    fn equal_handler_times_keep_no_column_until_one_differs() {
        let mut r = Records::batch(4);
        r.set(EventIdx(3), Micros(10), Micros(15), LaneId(0));
        r.set(EventIdx(0), Micros(0), Micros(5), LaneId(0));
        assert!(matches!(r.took, Took::Same(Some(5))));
        assert_eq!(
            r.clone().into_sorted_spans(),
            SortedSpans::Shifted(vec![0, 10], 5)
        );
        r.set(EventIdx(1), Micros(5), Micros(12), LaneId(1));
        assert!(matches!(r.took, Took::Each(_)));
        let ends: Vec<u64> = (0..4)
            .map(|e| r.get(EventIdx(e)).map_or(0, |x| x.end.0))
            .collect();
        assert_eq!(ends, [5, 12, 0, 15]);
        assert_eq!(
            r.into_sorted_spans(),
            SortedSpans::Narrow(vec![0, 5, 10], vec![5, 12, 15])
        );
    }

    #[test]
    fn handlers_longer_than_u32_micros_keep_their_exact_end() {
        let mut r = Records::batch(1);
        let end = Micros(5 + u64::from(u32::MAX) * 3);
        r.set(EventIdx(0), Micros(5), end, LaneId(0));
        assert_eq!(r.get(EventIdx(0)).unwrap().end, end);
        assert_eq!(
            r.into_sorted_spans(),
            SortedSpans::Wide(vec![5], vec![end.0])
        );
    }

    #[test]
    fn own_lanes_are_the_accounts_without_a_column() {
        use crate::types::{AccountId, EventId};
        let mut w =
            crate::workload::Workload::new(crate::workload::Source::Live("t".into()), Micros(2));
        for (id, account) in [(1, 70), (2, 80), (3, 70)] {
            w.push(EventId(id), AccountId(account), None);
        }
        let mut r = Records::own_lanes(3);
        r.set_own_lane(EventIdx(0), Micros(0), Micros(2));
        r.set_own_lane(EventIdx(2), Micros(2), Micros(4));
        r.set_own_lane(EventIdx(2), Micros(2), Micros(4));
        assert!(matches!(r.lane, Lanes::OfAccount));
        assert_eq!(r.duplicates(), 1);
        assert_eq!(r.get(EventIdx(1)), None);
        assert_eq!(r.get(EventIdx(2)).map(|r| r.end), Some(Micros(4)));
        let lanes: Vec<LaneId> = w.indexes().map(|e| r.lane(e, &w)).collect();
        assert_eq!(lanes, [LaneId(0), LaneId(1), LaneId(0)]);
    }

    #[test]
    fn shared_records_become_the_same_records() {
        let shared = SharedRecords::new(3);
        shared.set(EventIdx(2), Micros(4), Micros(9), LaneId(7));
        shared.set(EventIdx(2), Micros(4), Micros(9), LaneId(7));
        let r = shared.into_records(2);
        assert_eq!(r.duplicates(), 1);
        assert_eq!(r.get(EventIdx(0)), None);
        let rec = r.get(EventIdx(2)).unwrap();
        // A lane column: the workload is not asked.
        let w =
            crate::workload::Workload::new(crate::workload::Source::Live("t".into()), Micros(1));
        assert_eq!(
            (rec.start, rec.end, r.lane(EventIdx(2), &w)),
            (Micros(4), Micros(9), LaneId(7))
        );
    }

    #[test]
    fn records_by_position_come_back_by_event() {
        let shared = SharedRecords::new(3);
        shared.set(EventIdx(0), Micros(1), Micros(2), LaneId(0));
        shared.set(EventIdx(2), Micros(5), Micros(6), LaneId(1));
        let r = shared.into_records_by(&[2, 0, 1], 2);
        assert_eq!(r.get(EventIdx(2)).unwrap().start, Micros(1));
        assert_eq!(r.get(EventIdx(1)).unwrap().start, Micros(5));
        assert_eq!(r.get(EventIdx(0)), None);
    }

    #[test]
    fn live_arrivals_keep_their_times() {
        let mut r = Records::live();
        r.push_arrival(Micros(3));
        r.push_arrival(Micros(7));
        r.set(EventIdx(1), Micros(8), Micros(9), LaneId(0));
        assert_eq!(r.get(EventIdx(1)).unwrap().arrival, Micros(7));
    }
}
