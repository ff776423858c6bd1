//! Handlers: the async function that processes one event. The engine measures each call from
//! right before it starts to right after it returns.

use super::clock::Clock;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use std::future::Future;

/// The event a handler is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    pub index: EventIdx,
    pub event: EventId,
    pub account: AccountId,
    /// How long processing must take (the event's own duration, or `--process-time`).
    pub duration: Micros,
}

/// What a handler may use from the engine: the run's clock, its own start, and the urgency of
/// its event.
pub struct Ctx<'a, C> {
    pub clock: &'a C,
    /// When this handler call started (the log's `start_us`), on the run's clock.
    pub start: Micros,
    /// Work left on this event's account, this event included (see [`Clock::sleep_until`]).
    pub urgency: u64,
}

impl<C: Clock> Ctx<'_, C> {
    /// Sleeps `d` from now, on the run's clock.
    pub fn sleep(&self, d: Micros) -> C::Sleep {
        let deadline = self.clock.now().saturating_add(d);
        self.clock.sleep_until(deadline, self.urgency)
    }

    /// Sleeps until `d` after this handler's own start: the call then lasts at least `d` by
    /// construction, however late it was polled.
    pub fn finish_after(&self, d: Micros) -> C::Sleep {
        let deadline = match d {
            // Time 0 is past for any clock: a zero-length event ends without a clock read.
            Micros::ZERO => Micros::ZERO,
            d => self.start.saturating_add(d),
        };
        self.clock.sleep_until(deadline, self.urgency)
    }
}

/// Processes one event. Implement this to plug real work into the engine.
pub trait Handler: Send + Sync + 'static {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send;
}

/// The benchmark's handler: sleeps the event's duration, counted from its own start, so a late
/// start is never made up by a shorter event.
#[derive(Clone, Copy, Debug, Default)]
pub struct SleepHandler;

impl Handler for SleepHandler {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        ctx.finish_after(job.duration)
    }
}
