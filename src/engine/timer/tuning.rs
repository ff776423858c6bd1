//! The precise timer's margins and the thread's one decision per look at the clock (wait in
//! the kernel, spin, fire, park), kept apart from the thread so they can be tested on made-up
//! times.

use super::TimerMode;

/// The timer's margins in µs; [`TimerMode::Sleep`] is all zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tuning {
    /// While no woken sleep is pending on the runtime, a task is woken up to this long before
    /// its deadline: the time a parked tokio worker needs to get up and poll it. The sleep
    /// spins out whatever is left ([`Sleep::poll`]).
    pub(super) lead_max: u64,
    /// ... but never more than this fraction (1/n) of the sleep, so that a short sleep spends
    /// most of its time off the CPU.
    pub(super) lead_share: u64,
    /// The kernel wait ends this long before the wake-up is due (it returns late by about
    /// this much on a virtual machine); the rest is spun.
    pub(super) margin: u64,
    /// While more than this is left, spinning yields the core to any other runnable thread
    /// (on two cores, that is usually a tokio worker with work to do).
    pub(super) yield_above: u64,
}

impl Tuning {
    pub(super) fn of(mode: TimerMode) -> Self {
        match mode {
            // Chosen on the runs of results/2026-11-28-short-events (2-core VM): a parked
            // worker took 30-80 µs to poll a woken task; a larger lead only spun longer.
            TimerMode::Precise => Tuning {
                lead_max: 80,
                lead_share: 4,
                margin: 300,
                yield_above: 20,
            },
            TimerMode::Sleep => Tuning {
                lead_max: 0,
                lead_share: 1,
                margin: 0,
                yield_above: 0,
            },
        }
    }

    /// How long before its deadline a sleep of `length` µs may be woken.
    pub(super) fn lead(&self, length: u64) -> u64 {
        self.lead_max.min(length / self.lead_share.max(1))
    }

    /// What the thread does at `now` when the earliest pending wake-up is due at `next`.
    pub(super) fn step(&self, now: u64, next: Option<u64>) -> Step {
        let Some(wake_at) = next else {
            return Step::Park;
        };
        if now >= wake_at {
            return Step::Fire;
        }
        let left = wake_at - now;
        if left > self.margin {
            Step::Wait(left - self.margin)
        } else {
            Step::Spin
        }
    }
}

/// One decision of the timer thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Wake every sleep whose wake-up is due.
    Fire,
    /// The next wake-up is close: watch the clock without giving the core to the kernel's
    /// timer (and without the lock, which the workers need to register their sleeps).
    Spin,
    /// Wait in the kernel this many µs (or until an earlier wake-up is registered).
    Wait(u64),
    /// No timer pending: wait in the kernel until one is registered.
    Park,
}
