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

/// What a handler may use from the engine: the run's clock, and the urgency of its event.
pub struct Ctx<'a, C> {
    pub clock: &'a C,
    /// Work left on this event's account, this event included (see [`Clock::sleep_until`]).
    pub urgency: u64,
}

impl<C: Clock> Ctx<'_, C> {
    /// Sleeps `d` from now, on the run's clock.
    pub fn sleep(&self, d: Micros) -> C::Sleep {
        let deadline = self.clock.now().saturating_add(d);
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
        ctx.sleep(job.duration)
    }
}
