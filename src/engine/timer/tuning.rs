//! The precise timer's one margin and the decisions taken on it (spin, hand the wait to the
//! thread, fire), kept apart from the thread and the pump so they can be tested on made-up
//! times.

use super::TimerMode;

/// The timer's margins in µs; [`TimerMode::Sleep`] has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tuning {
    /// The sleeps of the accounts that may set the makespan are woken up to this long before
    /// their deadline and spin out the rest on their worker (see [`super::State::critical`]):
    /// in a storm of wake-ups their task then waits its turn in the run queue while its lead
    /// runs out instead of after its deadline.
    pub(super) lead_max: u64,
    /// ... but never more than this fraction (1/n) of the sleep, so that a short sleep spends
    /// most of its time off the CPU.
    pub(super) lead_share: u64,
    /// While the earliest deadline is at most this far off, the pump task keeps its tokio
    /// worker up (spinning through the run queue); further off, the timer thread waits in the
    /// kernel and wakes the pump this long before the deadline. It must cover the thread's late
    /// return from a kernel wait plus the time a parked worker needs to get up: 50-200 µs
    /// mostly, but on this VM one such wake-up in a few hundred takes 1-8 ms (a halted vCPU
    /// not resumed at once). At 400 µs a 1 ms chain was held up by such a stall in 6 of 25
    /// runs; at 1 ms the pump never idles between its events and none was, for a core's
    /// worth of CPU while the chain runs (results/2026-11-28-short-events/session4).
    pub(super) horizon: u64,
}

impl Tuning {
    pub(super) fn of(mode: TimerMode) -> Self {
        match mode {
            TimerMode::Precise => Tuning {
                lead_max: 80,
                lead_share: 4,
                horizon: 1_000,
            },
            TimerMode::Sleep => Tuning {
                lead_max: 0,
                lead_share: 1,
                horizon: 0,
            },
        }
    }

    /// How long before its deadline a critical sleep of `length` µs may be woken.
    pub(super) fn lead(&self, length: u64) -> u64 {
        self.lead_max.min(length / self.lead_share.max(1))
    }

    /// What the pump does at `now` when the earliest pending wake-up is due at `front`.
    pub(super) fn pump(&self, now: u64, front: Option<u64>) -> Plan {
        match front {
            None => Plan::Idle(None),
            Some(d) if d <= now => Plan::Fire,
            Some(d) if d - now <= self.horizon => Plan::Spin,
            Some(d) => Plan::Idle(Some(d - self.horizon)),
        }
    }

    /// What the thread does at `now` when it is due to act at `next` (`None`: nothing to do
    /// until something changes).
    pub(super) fn thread(now: u64, next: Option<u64>) -> Step {
        match next {
            None => Step::Park,
            Some(t) if t <= now => Step::Act,
            Some(t) => Step::Wait(t - now),
        }
    }
}

/// One decision of the pump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Wake every sleep whose deadline has passed.
    Fire,
    /// The next deadline is near: stay up and look again after the worker's other tasks.
    Spin,
    /// Nothing near: let the worker park; the thread wakes the pump at this time (`None`: when
    /// a sleep is registered).
    Idle(Option<u64>),
}

/// One decision of the timer thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Do what is due: wake the pump, or (without one) the sleeps whose deadline has passed.
    Act,
    /// Wait in the kernel this many µs (or until something earlier is registered).
    Wait(u64),
    /// Nothing pending: wait in the kernel until something is registered.
    Park,
}
