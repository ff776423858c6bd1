//! The virtual clock for events that arrived over time: the fault-free reference of a live
//! run (`worker --fault`, `serve --fault`), which must not count an event's own arrival as a
//! delay.

use super::{finished, scheduler_for, InFlight};
use crate::engine::record::{Execution, Records};
use crate::engine::scheduler::Scheduler;
use crate::engine::{lanes_are_per_account, ClockKind, Strategy};
use crate::types::{EventIdx, LaneId, Micros};
use crate::workload::Workload;
use std::collections::{BinaryHeap, VecDeque};

/// Runs `strategy` on `lanes` lanes (`None`: one per account) on the virtual clock, each
/// event starting no earlier than `arrival(e)` (times on the arrivals' own clock, as a live
/// run records them). The records keep the arrivals, so a report measures them from the first
/// arrival as it does the live run; the wall time is the last end on that clock (with every
/// arrival at 0: exactly [`super::run`]).
///
/// An event of an account is never ready before the account's previous event arrived: the
/// schedulers take each account's events in order.
pub fn run_over_arrivals(
    w: &Workload,
    strategy: Strategy,
    lanes: Option<u64>,
    arrival: impl Fn(EventIdx) -> Micros,
) -> Execution {
    let ready = ready_times(w, arrival);
    if lanes_are_per_account(strategy, lanes, w.account_count() as u64) {
        return unbounded(w, &ready);
    }
    let mut sched = scheduler_for(strategy, lanes, w, ClockKind::Virtual);
    simulate_over_arrivals(w, sched.as_mut(), &ready)
}

/// Each event's arrival, raised to its account's previous one (a live log is in arrival
/// order, so this only matters for hand-made ones).
fn ready_times(w: &Workload, arrival: impl Fn(EventIdx) -> Micros) -> Vec<u64> {
    let mut last = vec![0u64; w.account_count()];
    w.indexes()
        .map(|e| {
            let a = w.account_of(e).0 as usize;
            last[a] = last[a].max(arrival(e).0);
            last[a]
        })
        .collect()
}

/// Records that keep each event's arrival.
fn live_records(ready: &[u64]) -> Records {
    let mut records = Records::live();
    for &at in ready {
        records.push_arrival(Micros(at));
    }
    records
}

/// A lane per account: each event starts when it arrived and its account's previous one ended.
fn unbounded(w: &Workload, ready: &[u64]) -> Execution {
    let mut records = live_records(ready);
    let mut busy_until = vec![0u64; w.account_count()];
    let mut wall = 0u64;
    for e in w.indexes() {
        let a = w.account_of(e).0 as usize;
        let start = busy_until[a].max(ready[e.0 as usize]);
        let end = start.saturating_add(w.duration(e).0);
        busy_until[a] = end;
        records.set(e, Micros(start), Micros(end), LaneId(a as u32));
        wall = wall.max(end);
    }
    finished(records, wall)
}

/// Drives `sched` with the events handed over as they arrive; lanes stay idle while nothing
/// has. At one instant, ends are delivered first, then arrivals, then starts (as
/// [`super::simulate`] does, with every arrival at 0).
pub fn simulate_over_arrivals(w: &Workload, sched: &mut dyn Scheduler, ready: &[u64]) -> Execution {
    let mut order: Vec<EventIdx> = w.indexes().collect();
    // Stable: events arriving at one instant are handed over in the workload's order.
    order.sort_by_key(|e| ready[e.0 as usize]);
    let mut records = live_records(ready);
    let mut in_flight = if w.uniform_duration().is_some() {
        InFlight::Fifo(VecDeque::new())
    } else {
        InFlight::Heap(BinaryHeap::new())
    };
    let (mut now, mut wall, mut next) = (0u64, 0u64, 0usize);
    loop {
        while let Some(&e) = order.get(next).filter(|e| ready[e.0 as usize] <= now) {
            sched.arrive(w, e);
            next += 1;
        }
        while let Some(d) = sched.next(w) {
            let slot = d.slot;
            let end = now.saturating_add(w.duration(slot.event).0);
            records.set(slot.event, Micros(now), Micros(end), slot.lane);
            in_flight.push(end, slot);
            wall = wall.max(end);
        }
        let arriving = order.get(next).map(|e| ready[e.0 as usize]);
        let Some(t) = [in_flight.next_end(), arriving].into_iter().flatten().min() else {
            break;
        };
        now = t;
        while in_flight.next_end() == Some(now) {
            let slot = in_flight.pop().expect("peeked");
            sched.finish(w, slot);
        }
    }
    finished(records, wall)
}

#[cfg(test)]
#[path = "arrivals_tests.rs"]
mod tests;
