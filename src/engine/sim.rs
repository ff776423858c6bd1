//! The virtual clock: a discrete-event simulation that drives a [`Scheduler`] exactly as the
//! real executor does, with each handler taking exactly its duration.
//!
//! Completions that fall on the same instant are all delivered before anything new starts, so
//! a policy sees every account that is ready at that instant (this is what makes `optimal`
//! reach the bound exactly).

use super::record::{Execution, Records};
use super::scheduler::{Dispatch, Scheduler};
use super::ClockKind;
use crate::types::Micros;
use crate::workload::Workload;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Events in flight, ordered by end time.
enum InFlight {
    /// Equal durations: events end in the order they started, so a FIFO is already sorted.
    Fifo(VecDeque<(u64, Dispatch)>),
    /// Unequal durations: a heap by (end, start order).
    Heap(BinaryHeap<Reverse<(u64, u64, DispatchKey)>>, u64),
}

/// A [`Dispatch`] packed for the heap (it needs `Ord`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct DispatchKey(u32, u32, u64);

impl InFlight {
    fn push(&mut self, end: u64, d: Dispatch) {
        match self {
            InFlight::Fifo(q) => q.push_back((end, d)),
            InFlight::Heap(h, seq) => {
                *seq += 1;
                h.push(Reverse((
                    end,
                    *seq,
                    DispatchKey(d.lane.0, d.event.0, d.urgency),
                )));
            }
        }
    }

    fn next_end(&self) -> Option<u64> {
        match self {
            InFlight::Fifo(q) => q.front().map(|(t, _)| *t),
            InFlight::Heap(h, _) => h.peek().map(|Reverse((t, _, _))| *t),
        }
    }

    fn pop(&mut self) -> Option<Dispatch> {
        match self {
            InFlight::Fifo(q) => q.pop_front().map(|(_, d)| d),
            InFlight::Heap(h, _) => h.pop().map(|Reverse((_, _, k))| Dispatch {
                lane: crate::types::LaneId(k.0),
                event: crate::types::EventIdx(k.1),
                urgency: k.2,
            }),
        }
    }
}

/// Runs the whole workload through `sched` on the virtual clock.
pub fn simulate(w: &Workload, sched: &mut dyn Scheduler) -> Execution {
    for e in w.indexes() {
        sched.arrive(w, e);
    }
    let mut records = Records::batch(w.len());
    let mut in_flight = if w.uniform_duration().is_some() {
        InFlight::Fifo(VecDeque::new())
    } else {
        InFlight::Heap(BinaryHeap::new(), 0)
    };
    let mut now = 0u64;
    loop {
        while let Some(d) = sched.next(w) {
            let end = now.saturating_add(w.duration(d.event).0);
            records.set(d.event, Micros(now), Micros(end), d.lane);
            in_flight.push(end, d);
        }
        let Some(t) = in_flight.next_end() else { break };
        now = t;
        while in_flight.next_end() == Some(now) {
            let d = in_flight.pop().expect("peeked");
            sched.finish(w, d);
        }
    }
    Execution {
        records,
        wall: Micros(now),
        clock: ClockKind::Virtual,
        interrupted: false,
    }
}
