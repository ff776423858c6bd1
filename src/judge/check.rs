//! The verdict on another system's log: every workload event processed once, in per-account
//! arrival order, one at a time per account, for at least its processing time.
//!
//! Only the workload and the log are consulted, never eventbench's own engine records, and no
//! more precision is claimed than the log's times have: times equal at the log's resolution
//! are ordered by line (a log is written as events finish), and an overlap or a short handler
//! counts only when it is larger than one resolution step.

use super::foreign_log::{Entry, LogSummary};
use crate::report::stats::Distribution;
use crate::types::{EventId, EventIdx};
use crate::workload::{IdMap, Shape, Workload};

/// Examples kept per kind.
const EXAMPLES: usize = 5;
/// Order, overlap and short-handler examples kept together.
const VIOLATION_EXAMPLES: usize = 10;
const NONE: i64 = i64::MIN;

/// Event id to index: a table when ids are dense (what `generate` writes), else a map.
enum EventLookup {
    Dense { min: u64, table: Vec<u32> },
    Sparse(IdMap<EventId, u32>),
}

impl EventLookup {
    fn new(w: &Workload) -> Self {
        let ids = || w.indexes().map(|e| w.event_id(e).0);
        let (min, max) = ids().fold((u64::MAX, 0), |(lo, hi), id| (lo.min(id), hi.max(id)));
        if w.is_empty() || max - min > 4 * w.len() as u64 + (1 << 20) {
            return EventLookup::Sparse(w.indexes().map(|e| (w.event_id(e), e.0)).collect());
        }
        let mut table = vec![u32::MAX; (max - min + 1) as usize];
        for e in w.indexes() {
            table[(w.event_id(e).0 - min) as usize] = e.0;
        }
        EventLookup::Dense { min, table }
    }

    fn get(&self, id: EventId) -> Option<EventIdx> {
        match self {
            EventLookup::Dense { min, table } => {
                id.0.checked_sub(*min)
                    .and_then(|i| table.get(usize::try_from(i).ok()?))
                    .filter(|&&i| i != u32::MAX)
                    .map(|&i| EventIdx(i))
            }
            EventLookup::Sparse(m) => m.get(&id).map(|&i| EventIdx(i)),
        }
    }
}

/// Collects a log's entries against a workload; [`Judge::finish`] gives the verdict.
pub struct Judge<'w> {
    w: &'w Workload,
    lookup: EventLookup,
    /// Per event, its first line in the log (0: never seen) and that line's times.
    line: Vec<u64>,
    start: Vec<i64>,
    end: Vec<i64>,
    accepted: Vec<i64>,
    pub duplicates: u64,
    pub duplicate_examples: Vec<String>,
    pub unknown: u64,
    pub unknown_examples: Vec<String>,
    /// Events a later process ran again where an earlier one stopped.
    pub redelivered: u64,
    /// The log files read so far: (first ordinal of the file, its name). A line's ordinal is
    /// its line number plus its file's base, so lines of later files sort after earlier ones.
    files: Vec<(u64, String)>,
    /// Per account, the furthest event (workload index) seen so far, and as the previous
    /// file ended: the event a restarted process may run again.
    furthest: Vec<u32>,
    at_restart: Vec<u32>,
    /// Redelivered events and the file that ran them again (a second repeat in the same file
    /// is a duplicate).
    rerun_in: std::collections::HashMap<u32, usize>,
    /// The latest time of any entry so far, where the next process's times are placed after.
    latest: i64,
}

/// Everything `verify` found.
#[derive(Default)]
pub struct Findings {
    pub processed: u64,
    pub lost: u64,
    pub lost_examples: Vec<String>,
    pub duplicates: u64,
    pub duplicate_examples: Vec<String>,
    pub unknown: u64,
    pub unknown_examples: Vec<String>,
    /// Events a restarted process ran again (see [`Judge::next_process`]); not violations.
    pub redelivered: u64,
    /// Events processed before an event of the same account that arrived earlier.
    pub reordered: u64,
    /// Events started (in arrival order) before their account's previous event ended.
    pub overlaps: u64,
    pub short_handlers: u64,
    pub violations: Vec<String>,
    /// Most events running at once (0 without start and end times).
    pub max_in_flight: u64,
    /// Wall time in µs and how it was measured; `None` when the log has no times.
    pub wall_us: Option<u64>,
    pub wall_basis: String,
    pub latency: Distribution,
    pub overshoot: Distribution,
    /// Caveats worth a line on stderr and in the report.
    pub notes: Vec<String>,
    /// The shape of the events the log shows, when some were lost: the efficiency is judged
    /// against the bound of the work that was done, as `run` does.
    pub done: Option<Shape>,
    /// With `--sent` and unix times: each event's acceptance, µs after the first one (0 for an
    /// event `--sent` does not list), for the bound over arrivals.
    pub arrival_us: Option<Vec<u64>>,
    /// Per event, whether the log shows it (filled with `arrival_us`).
    pub logged: Vec<bool>,
}

impl<'w> Judge<'w> {
    pub fn new(w: &'w Workload) -> Self {
        let n = w.len();
        Judge {
            w,
            lookup: EventLookup::new(w),
            line: vec![0; n],
            start: vec![NONE; n],
            end: vec![NONE; n],
            accepted: Vec::new(),
            duplicates: 0,
            duplicate_examples: Vec::new(),
            unknown: 0,
            unknown_examples: Vec::new(),
            redelivered: 0,
            files: vec![(0, String::new())],
            furthest: vec![u32::MAX; w.account_count()],
            at_restart: Vec::new(),
            rerun_in: Default::default(),
            latest: NONE,
        }
    }

    /// The entries that follow are the log of the next process of the same system (it was
    /// restarted), named `name`, whose lines are numbered from 1 again; `prev_lines` is how
    /// many lines the previous file had.
    pub fn next_process(&mut self, prev_lines: u64, name: String) {
        let base = self.files.last().map_or(0, |f| f.0) + prev_lines + 1;
        self.files.push((base, name));
        self.at_restart.clone_from(&self.furthest);
    }

    /// Names the first file when there are several (its name is known only to the caller).
    pub fn name_first(&mut self, name: String) {
        self.files[0].1 = name;
    }

    /// The latest time any entry so far has (None before any time).
    pub fn latest_time(&self) -> Option<i64> {
        (self.latest != NONE).then_some(self.latest)
    }

    /// Where a line ordinal is: `line N`, or `FILE line N` when several logs are judged.
    fn at(&self, ordinal: u64) -> String {
        let i = self
            .files
            .partition_point(|f| f.0 <= ordinal)
            .saturating_sub(1);
        let (base, name) = &self.files[i];
        if self.files.len() == 1 {
            format!("line {}", ordinal - base)
        } else {
            format!("{name} line {}", ordinal - base)
        }
    }

    /// Takes one log entry.
    pub fn add(&mut self, mut e: Entry) {
        let base = self.files.last().map_or(0, |f| f.0);
        e.line += base;
        for t in [e.start, e.end].into_iter().flatten() {
            self.latest = self.latest.max(t);
        }
        let idx = self.lookup.get(e.event);
        let Some(i) = idx.filter(|&i| self.w.account_id(self.w.account_of(i)) == e.account) else {
            self.unknown += 1;
            if self.unknown_examples.len() < EXAMPLES {
                let why = match idx {
                    Some(i) => format!(
                        "belongs to account {} in the workload",
                        self.w.account_id(self.w.account_of(i)).0
                    ),
                    None => "is not in the workload".into(),
                };
                let at = self.at(e.line);
                self.unknown_examples.push(format!(
                    "{at}: event {} of account {} {why}",
                    e.event.0, e.account.0
                ));
            }
            return;
        };
        let k = i.0 as usize;
        let a = self.w.account_of(i).0 as usize;
        if self.line[k] != 0 {
            if self.is_redelivery(i, a, base) {
                self.redelivered += 1;
                return;
            }
            self.duplicates += 1;
            if self.duplicate_examples.len() < EXAMPLES {
                let lines = if self.files.len() == 1 {
                    format!("lines {} and {}", self.line[k], e.line)
                } else {
                    format!("{} and {}", self.at(self.line[k]), self.at(e.line))
                };
                self.duplicate_examples.push(format!(
                    "event {} of account {}: {lines}",
                    e.event.0, e.account.0
                ));
            }
            return;
        }
        if self.furthest[a] == u32::MAX || self.furthest[a] < i.0 {
            self.furthest[a] = i.0;
        }
        self.line[k] = e.line;
        self.start[k] = e.start.unwrap_or(NONE);
        self.end[k] = e.end.unwrap_or(NONE);
    }

    /// A repeat is a redelivery when an earlier process logged it, it was the furthest
    /// event of its account when that process's log ended (the one the account was at),
    /// and this process has not run it again already.
    fn is_redelivery(&mut self, i: EventIdx, a: usize, base: u64) -> bool {
        let file = self.files.len() - 1;
        let ok = file > 0
            && self.line[i.0 as usize] < base
            && self.at_restart.get(a) == Some(&i.0)
            && self.rerun_in.get(&i.0) != Some(&file);
        if ok {
            self.rerun_in.insert(i.0, file);
        }
        ok
    }

    /// Acceptance times from `--sent` (unix µs); ids not in the workload are ignored.
    pub fn accepted(&mut self, rows: &[(u64, i64)]) {
        self.accepted = vec![NONE; self.w.len()];
        for &(id, at) in rows {
            if let Some(i) = self.lookup.get(EventId(id)) {
                let slot = &mut self.accepted[i.0 as usize];
                // A resent event counts from its first acceptance.
                if *slot == NONE || at < *slot {
                    *slot = at;
                }
            }
        }
    }

    /// The verdict, given what reading the log found.
    pub fn finish(self, log: &LogSummary) -> Findings {
        let mut f = Findings {
            duplicates: self.duplicates,
            duplicate_examples: self.duplicate_examples.clone(),
            redelivered: self.redelivered,
            unknown: self.unknown,
            unknown_examples: self.unknown_examples.clone(),
            ..Findings::default()
        };
        self.order(log, &mut f);
        self.times(log, &mut f);
        if f.lost > 0 {
            f.done = Some(self.w.shape_of(|e| self.line[e.0 as usize] != 0));
        }
        f
    }

    /// Lost events, order, overlaps and short handlers, account by account in arrival order.
    fn order(&self, log: &LogSummary, f: &mut Findings) {
        let w = self.w;
        let step = log.resolution.micros() as i64;
        let by_start = log.has_start;
        // Per account: (order key, line, event) of the previous processed event, and the
        // latest end so far.
        let mut prev: Vec<Option<(i64, u64, EventIdx)>> = vec![None; w.account_count()];
        let mut max_end = vec![NONE; w.account_count()];
        for e in w.indexes() {
            let k = e.0 as usize;
            let a = w.account_of(e).0 as usize;
            let account = w.account_id(w.account_of(e)).0;
            if self.line[k] == 0 {
                f.lost += 1;
                if f.lost_examples.len() < EXAMPLES {
                    f.lost_examples
                        .push(format!("event {} of account {account}", w.event_id(e).0));
                }
                continue;
            }
            f.processed += 1;
            let (start, end, line) = (self.start[k], self.end[k], self.line[k]);
            let key = if by_start { start } else { end };
            if let Some((pkey, pline, pe)) = prev[a] {
                let earlier = if key != NONE && pkey != NONE && key != pkey {
                    key < pkey
                } else {
                    line < pline
                };
                if earlier {
                    f.reordered += 1;
                    note(
                        f,
                        format!(
                            "account {account}: event {} ({}) was processed before event {} ({}), \
                         which arrived earlier",
                            w.event_id(e).0,
                            self.at(line),
                            w.event_id(pe).0,
                            self.at(pline)
                        ),
                    );
                } else if start != NONE && max_end[a] != NONE && max_end[a] - start >= step {
                    f.overlaps += 1;
                    note(
                        f,
                        format!(
                            "account {account}: event {} ({}) started {} before event {} \
                         ({}, earlier in the queue) ended",
                            w.event_id(e).0,
                            self.at(line),
                            crate::types::Micros((max_end[a] - start) as u64),
                            w.event_id(pe).0,
                            self.at(pline)
                        ),
                    );
                }
            }
            if start != NONE && end != NONE {
                let took = end.saturating_sub(start).max(0) as u64;
                let due = w.duration(e).0;
                f.overshoot.record(took.saturating_sub(due));
                if took + step as u64 <= due {
                    f.short_handlers += 1;
                    note(
                        f,
                        format!(
                            "event {} ({}): handler took {}, less than its {}",
                            w.event_id(e).0,
                            self.at(line),
                            crate::types::Micros(took),
                            crate::types::Micros(due)
                        ),
                    );
                }
            }
            prev[a] = Some((key, line, e));
            max_end[a] = max_end[a].max(end);
        }
    }

    /// Wall time, latency and the most events in flight, as far as the log's times allow.
    fn times(&self, log: &LogSummary, f: &mut Findings) {
        let w = self.w;
        let seen = || w.indexes().filter(|e| self.line[e.0 as usize] != 0);
        let dur = |e: EventIdx| w.duration(e).0 as i64;
        let done = |e: EventIdx| match (self.start[e.0 as usize], self.end[e.0 as usize]) {
            (_, end) if end != NONE => Some(end),
            (start, _) if start != NONE => Some(start + dur(e)),
            _ => None,
        };
        let began = |e: EventIdx| match (self.start[e.0 as usize], self.end[e.0 as usize]) {
            (start, _) if start != NONE => Some(start),
            (_, end) if end != NONE => Some(end - dur(e)),
            _ => None,
        };
        let use_sent = !self.accepted.is_empty() && log.absolute;
        if !self.accepted.is_empty() && !log.absolute {
            f.notes.push(
                "--sent ignored for times: the log's times are not unix times, so they cannot \
                 be compared with the acceptance times"
                    .into(),
            );
        }
        let first_accept = use_sent
            .then(|| self.accepted.iter().copied().filter(|&t| t != NONE).min())
            .flatten();
        let first = first_accept.or_else(|| seen().filter_map(began).min());
        let last = seen().filter_map(done).max();
        if let Some(origin) = first_accept {
            let since = |t: i64| {
                if t == NONE {
                    0
                } else {
                    t.saturating_sub(origin).max(0)
                }
            };
            f.arrival_us = Some(self.accepted.iter().map(|&t| since(t) as u64).collect());
            f.logged = self.line.iter().map(|&l| l != 0).collect();
        }
        if let (Some(a), Some(b)) = (first, last) {
            f.wall_us = Some(b.saturating_sub(a).max(0) as u64);
            let from = match (first_accept, log.has_start) {
                (Some(_), _) => "the first acceptance (--sent)",
                (None, true) => "the first start",
                (None, false) => "the first end minus its processing time (estimated)",
            };
            let to = if log.has_end {
                "the last end"
            } else {
                "the last start plus its processing time (estimated)"
            };
            f.wall_basis = format!("from {from} to {to}");
        } else {
            f.wall_basis =
                "unknown: the log has no times (line order taken as completion order)".into();
        }
        if use_sent {
            for e in seen() {
                let at = self.accepted[e.0 as usize];
                if let (true, Some(d)) = (at != NONE, done(e)) {
                    f.latency.record(d.saturating_sub(at).max(0) as u64);
                }
            }
        }
        if log.has_start && log.has_end {
            f.max_in_flight = in_flight(
                seen()
                    .map(|e| (self.start[e.0 as usize], self.end[e.0 as usize]))
                    .filter(|(s, e)| *s != NONE && *e != NONE),
            );
        }
    }
}

fn note(f: &mut Findings, text: String) {
    if f.violations.len() < VIOLATION_EXAMPLES {
        f.violations.push(text);
    }
}

/// Most intervals open at one instant (one ending at t does not overlap one starting at t).
fn in_flight(spans: impl Iterator<Item = (i64, i64)>) -> u64 {
    let (mut starts, mut ends): (Vec<i64>, Vec<i64>) = spans.unzip();
    starts.sort_unstable();
    ends.sort_unstable();
    crate::engine::order_check::max_overlap(&starts, &ends)
}

#[cfg(test)]
mod tests;
