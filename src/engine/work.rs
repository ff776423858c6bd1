//! The engine's unit of work: the [`Job`] a handler is given, its [`Ctx`], the [`Handler`]
//! trait, the timed call and the plain [`SleepHandler`]. The engine measures each call from
//! right before it starts to right after it returns. Handlers doing real work (a command, a
//! service) live in the handler layer above the engine, which implements this trait.

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
    /// The lane (worker) running it: the `worker` column of a processed log.
    pub lane: u32,
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

    /// Whether a call takes the event's declared duration, so the lower bound is known before
    /// the run (a progress bar can show time against it). A command or a service takes what it
    /// takes: its bound is only known from the measured times, after the run.
    fn takes_declared_time(&self) -> bool {
        true
    }
}

/// How one handler call went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timed {
    /// Right before the handler was called.
    pub start: Micros,
    /// Right after the future it returned completed.
    pub end: Micros,
    /// The call or its future panicked (the event still ends then).
    pub panicked: bool,
}

/// Calls `handler` now and returns the future that finishes the call, timed from right before
/// the call to right after that future completes: the one place both executors take an
/// event's start and end.
///
/// The call happens here, not at the future's first poll: a handler that fixes its deadline
/// when called (as [`SleepHandler`] does) starts on time even when its executor is still busy
/// with the rest of a wake-up storm.
pub fn invoke<'a, H: Handler, C: Clock>(
    handler: &'a H,
    clock: &'a C,
    job: Job,
    urgency: u64,
    lane: u32,
) -> impl Future<Output = Timed> + Send + 'a {
    use futures_util::FutureExt;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let start = clock.now();
    let ctx = Ctx {
        clock,
        start,
        urgency,
        lane,
    };
    let call = catch_unwind(AssertUnwindSafe(|| handler.handle(job, ctx)));
    async move {
        let panicked = match call {
            Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await.is_err(),
            Err(_) => true,
        };
        Timed {
            start,
            end: clock.now(),
            panicked,
        }
    }
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
