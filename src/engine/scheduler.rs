//! Schedulers: the strategies as state machines, shared by the real and the virtual executor.
//!
//! An executor tells a scheduler when an event arrives ([`Scheduler::arrive`]) and when a
//! running event finishes ([`Scheduler::finish`]), and asks it what to start next
//! ([`Scheduler::next`]). The scheduler owns the per-account queues and the lanes; it never
//! sees a clock, so the same decisions are made whatever the time source.
//!
//! - [`LaneScheduler`] serves `per-account` (unbounded lanes), `pool` ([`Fifo`]) and `optimal`
//!   ([`MostWork`]): any free lane takes a ready account, and an account is on at most one
//!   lane at a time, which is what keeps its events in order.
//! - [`Sharded`] is the original design: lane `i` owns the accounts with `id % W == i` and
//!   runs its events one at a time in arrival order.

use super::policy::{AccountView, Fifo, MostWork, ReadyQueue};
use super::Strategy;
use crate::types::{AccountIdx, EventIdx, LaneId};
use crate::workload::Workload;
use std::collections::VecDeque;

const NONE: u32 = u32::MAX;

/// An event running on a lane (kept small: a million of them may be in flight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub lane: LaneId,
    pub event: EventIdx,
    /// The event's account (carried so that finishing needs no lookup).
    pub account: AccountIdx,
}

/// An event to start now on a lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub slot: Slot,
    /// Work (µs) still ahead on this event's critical path, this event included. Timers due at
    /// the same instant wake the most urgent first, so the longest chains lose the least.
    pub urgency: u64,
}

/// A strategy's state machine. See the module docs.
pub trait Scheduler: Send {
    /// Event `e` (the next index in arrival order) entered the queue.
    fn arrive(&mut self, w: &Workload, e: EventIdx);
    /// The next event to start, if a lane is free and an event may start.
    fn next(&mut self, w: &Workload) -> Option<Dispatch>;
    /// The event in `slot` finished; its lane is free again.
    fn finish(&mut self, w: &Workload, slot: Slot);
}

/// Builds the scheduler of a strategy; `lanes = None` means one lane per account.
pub fn build(strategy: Strategy, lanes: Option<u64>) -> Box<dyn Scheduler> {
    let lanes = lanes.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
    match strategy {
        // With a lane for every account nobody waits for a lane, so the queue order decides
        // only which account starts first within an instant: the heaviest, which is the one
        // that can least afford to be woken late.
        Strategy::PerAccount => Box::new(LaneScheduler::<MostWork>::new(None)),
        Strategy::Pool => Box::new(LaneScheduler::<Fifo>::new(lanes)),
        Strategy::Optimal => Box::new(LaneScheduler::<MostWork>::new(lanes)),
        Strategy::Sharded => Box::new(Sharded::new(lanes.unwrap_or(1).max(1))),
        Strategy::External => unreachable!("Plan::new refuses the external strategy"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Has work and no running event, but not queued yet: arrivals are gathered and queued at
    /// the next `next()`, so loading a million-event backlog queues each account once.
    Pending,
    Ready,
    Running,
}

/// One account's queue: a linked list through [`LaneScheduler::next_of`], so queues cost no
/// allocation per account and grow with live arrivals.
#[derive(Clone, Copy)]
struct AccountQueue {
    head: u32,
    tail: u32,
    remaining: u64,
    version: u32,
    state: State,
}

impl AccountQueue {
    const EMPTY: AccountQueue = AccountQueue {
        head: NONE,
        tail: NONE,
        remaining: 0,
        version: 0,
        state: State::Idle,
    };
}

struct Accounts(Vec<AccountQueue>);

impl AccountView for Accounts {
    fn version(&self, a: AccountIdx) -> u32 {
        self.0[a.0 as usize].version
    }
}

/// Work-conserving lanes with a [`ReadyQueue`] policy. See the module docs.
pub struct LaneScheduler<Q> {
    next_of: Vec<u32>,
    accounts: Accounts,
    ready: Q,
    pending: Vec<AccountIdx>,
    free: Vec<u32>,
    /// Lanes `fresh..limit` were never used; handing them out lazily keeps an unbounded
    /// scheduler from allocating a lane table.
    fresh: u32,
    limit: u32,
}

impl<Q: ReadyQueue + Default> LaneScheduler<Q> {
    pub fn new(lanes: Option<u32>) -> Self {
        Self::with_queue(lanes, Q::default())
    }
}

impl<Q: ReadyQueue> LaneScheduler<Q> {
    /// Lanes whose ready accounts wait in `ready` (a queue that needs settings of its own).
    pub fn with_queue(lanes: Option<u32>, ready: Q) -> Self {
        LaneScheduler {
            next_of: Vec::new(),
            accounts: Accounts(Vec::new()),
            ready,
            pending: Vec::new(),
            free: Vec::new(),
            fresh: 0,
            limit: lanes.unwrap_or(u32::MAX),
        }
    }

    fn take_lane(&mut self) -> Option<u32> {
        if let Some(l) = self.free.pop() {
            return Some(l);
        }
        (self.fresh < self.limit).then(|| {
            self.fresh += 1;
            self.fresh - 1
        })
    }

    fn make_ready(&mut self, a: AccountIdx) {
        let q = &mut self.accounts.0[a.0 as usize];
        q.state = State::Ready;
        q.version = q.version.wrapping_add(1);
        self.ready.push(a, q.remaining, q.version);
    }
}

impl<Q: ReadyQueue> Scheduler for LaneScheduler<Q> {
    fn arrive(&mut self, w: &Workload, e: EventIdx) {
        debug_assert_eq!(e.0 as usize, self.next_of.len(), "arrivals come in order");
        self.next_of.push(NONE);
        let a = w.account_of(e);
        if a.0 as usize >= self.accounts.0.len() {
            self.accounts
                .0
                .resize(a.0 as usize + 1, AccountQueue::EMPTY);
        }
        let q = &mut self.accounts.0[a.0 as usize];
        if q.head == NONE {
            q.head = e.0;
        } else {
            self.next_of[q.tail as usize] = e.0;
        }
        q.tail = e.0;
        q.remaining += w.duration(e).0;
        match q.state {
            State::Idle => {
                q.state = State::Pending;
                self.pending.push(a);
            }
            State::Pending | State::Running => {}
            State::Ready => {
                q.version = q.version.wrapping_add(1);
                let (remaining, version) = (q.remaining, q.version);
                self.ready.grow(a, remaining, version);
            }
        }
    }

    fn next(&mut self, w: &Workload) -> Option<Dispatch> {
        for a in std::mem::take(&mut self.pending) {
            self.make_ready(a);
        }
        if self.free.is_empty() && self.fresh >= self.limit {
            return None;
        }
        let a = self.ready.pop(&self.accounts)?;
        let lane = self.take_lane().expect("a lane is free");
        let q = &mut self.accounts.0[a.0 as usize];
        let e = q.head;
        q.head = self.next_of[e as usize];
        if q.head == NONE {
            q.tail = NONE;
        }
        let urgency = q.remaining;
        q.remaining -= w.duration(EventIdx(e)).0;
        q.state = State::Running;
        Some(Dispatch {
            slot: Slot {
                lane: LaneId(lane),
                event: EventIdx(e),
                account: a,
            },
            urgency,
        })
    }

    fn finish(&mut self, _w: &Workload, slot: Slot) {
        let a = slot.account;
        self.free.push(slot.lane.0);
        let q = &mut self.accounts.0[a.0 as usize];
        if q.head == NONE {
            q.state = State::Idle;
        } else {
            self.make_ready(a);
        }
    }
}

/// `sharded`: lane `account_id % W` runs its events one at a time, in arrival order.
pub struct Sharded {
    queues: Vec<VecDeque<u32>>,
    remaining: Vec<u64>,
    busy: Vec<bool>,
    /// Lanes that are idle and have a pending event.
    runnable: Vec<u32>,
}

impl Sharded {
    pub fn new(lanes: u32) -> Self {
        let n = lanes as usize;
        Sharded {
            queues: (0..n).map(|_| VecDeque::new()).collect(),
            remaining: vec![0; n],
            busy: vec![false; n],
            runnable: Vec::new(),
        }
    }

    /// The lane that owns an account id.
    pub fn lane_of(account_id: u64, lanes: u32) -> u32 {
        (account_id % u64::from(lanes)) as u32
    }
}

impl Scheduler for Sharded {
    fn arrive(&mut self, w: &Workload, e: EventIdx) {
        let id = w.account_id(w.account_of(e)).0;
        let lane = Self::lane_of(id, self.queues.len() as u32) as usize;
        self.queues[lane].push_back(e.0);
        self.remaining[lane] += w.duration(e).0;
        if !self.busy[lane] && self.queues[lane].len() == 1 {
            self.runnable.push(lane as u32);
        }
    }

    fn next(&mut self, w: &Workload) -> Option<Dispatch> {
        let lane = self.runnable.pop()?;
        let l = lane as usize;
        let e = self.queues[l]
            .pop_front()
            .expect("runnable lanes have work");
        self.busy[l] = true;
        let urgency = self.remaining[l];
        self.remaining[l] -= w.duration(EventIdx(e)).0;
        Some(Dispatch {
            slot: Slot {
                lane: LaneId(lane),
                event: EventIdx(e),
                account: w.account_of(EventIdx(e)),
            },
            urgency,
        })
    }

    fn finish(&mut self, _w: &Workload, slot: Slot) {
        let l = slot.lane.0 as usize;
        self.busy[l] = false;
        if !self.queues[l].is_empty() {
            self.runnable.push(slot.lane.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccountId, EventId, Micros};
    use crate::workload::Source;

    fn workload(accounts: &[u64]) -> Workload {
        let mut w = Workload::new(Source::Live("test".into()), Micros(1));
        for (i, &a) in accounts.iter().enumerate() {
            w.push(EventId(i as u64 + 1), AccountId(a), None);
        }
        w
    }

    fn drain(s: &mut dyn Scheduler, w: &Workload) -> Vec<Dispatch> {
        std::iter::from_fn(|| s.next(w)).collect()
    }

    #[test]
    fn an_account_is_never_on_two_lanes() {
        let w = workload(&[1, 1, 1, 2]);
        let mut s = build(Strategy::Pool, Some(4));
        w.indexes().for_each(|e| s.arrive(&w, e));
        let first = drain(s.as_mut(), &w);
        let events: Vec<_> = first.iter().map(|d| d.slot.event.0).collect();
        assert_eq!(
            events,
            vec![0, 3],
            "account 1's second event waits for its first"
        );
        s.finish(&w, first[0].slot);
        assert_eq!(drain(s.as_mut(), &w)[0].slot.event, EventIdx(1));
    }

    #[test]
    fn optimal_starts_the_longest_chain_first() {
        let w = workload(&[1, 2, 2, 2, 3, 3]);
        let mut s = build(Strategy::Optimal, Some(1));
        w.indexes().for_each(|e| s.arrive(&w, e));
        let d = drain(s.as_mut(), &w);
        assert_eq!(d.len(), 1, "one lane");
        assert_eq!(w.account_id(d[0].slot.account), AccountId(2));
        assert_eq!(d[0].urgency, 3);
    }

    #[test]
    fn sharded_runs_a_lane_in_arrival_order() {
        let w = workload(&[1, 3, 2, 1]);
        let mut s = build(Strategy::Sharded, Some(2));
        w.indexes().for_each(|e| s.arrive(&w, e));
        let d = drain(s.as_mut(), &w);
        assert_eq!(d.len(), 2);
        let odd = d.iter().find(|d| d.slot.lane == LaneId(1)).unwrap();
        assert_eq!(odd.slot.event, EventIdx(0));
        s.finish(&w, odd.slot);
        assert_eq!(
            drain(s.as_mut(), &w)[0].slot.event,
            EventIdx(1),
            "account 3 shares lane 1"
        );
    }
}
