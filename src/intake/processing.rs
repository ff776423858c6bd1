//! What processing an accepted event means in `serve`: the engine's type, its handler (the
//! configured one, plus the durable start mark and the `--log` row), the arrival times its
//! latencies count from, and how the durable queue hands committed events to it.

use super::durable::{Durable, Enqueue};
use super::metrics::Metrics;
use crate::engine::clock::{Clock, PreciseClock};
use crate::engine::real::Engine;
use crate::engine::work::{Ctx, Handler, Job};
use crate::handler::AnyHandler;
use crate::live::Board;
use crate::live_log::LiveLog;
use crate::types::Micros;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// The engine the server feeds.
pub(crate) type LiveEngine = Engine<ServeHandler, PreciseClock>;

/// Arrival times by event index, for the latency histogram; shared with the engine's observer.
pub(crate) struct Arrivals {
    times: Mutex<Vec<u64>>,
    clock: PreciseClock,
    pub metrics: Metrics,
    /// What the dashboard shows.
    pub live: Arc<Board>,
}

impl Arrivals {
    pub(crate) fn new(clock: PreciseClock) -> Self {
        Arrivals {
            times: Mutex::new(Vec::new()),
            clock,
            metrics: Metrics::default(),
            live: Arc::new(Board::default()),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Vec<u64>> {
        crate::sync::lock(&self.times)
    }

    /// Records that the next event (by engine index) entered the queue at `at`.
    pub(crate) fn arrive(&self, at: Micros) {
        self.lock().push(at.0);
    }

    /// Takes back the last [`Arrivals::arrive`], for an event the engine refused.
    pub(crate) fn unarrive(&self) {
        self.lock().pop();
    }

    /// Called by the engine after each handler returned.
    pub(crate) fn finished(&self, job: &Job) {
        let arrival = self.lock().get(job.index.0 as usize).copied();
        if let Some(at) = arrival {
            let latency = self.clock.now().0.saturating_sub(at);
            self.metrics.observe_latency(latency);
            self.live.finish(job.account.0, job.duration.0, latency);
        }
    }
}

/// Committed events into `engine`, their arrival time taken as they enter it.
pub(crate) fn enqueue_into(engine: LiveEngine, arrivals: Arc<Arrivals>) -> Enqueue {
    Box::new(move |event, account, duration| {
        arrivals.arrive(engine.now());
        let queued = engine.submit(event, account, duration).is_ok();
        if !queued {
            arrivals.unarrive();
        }
        queued
    })
}

/// What processing an event means in `serve`: the benchmark's sleep or `--handler`; in durable
/// mode its start
/// mark goes to disk meanwhile, and with `--log` its row is appended right after.
///
/// The start mark is written when the handler starts and is on disk before the event's
/// completion is recorded anywhere (its log row, then its finish mark): so an event that a
/// crash cuts off after it left any trace runs again counted as `redelivered`. Awaiting the
/// mark at the end rather than before the sleep costs nothing when the commit is faster than
/// the event, which it nearly always is.
#[derive(Clone, Default)]
pub(crate) struct ServeHandler {
    pub inner: AnyHandler,
    pub durable: Option<Arc<Durable>>,
    pub log: Option<Arc<LiveLog>>,
}

impl Handler for ServeHandler {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        let mark = self.durable.as_ref().map(|d| d.started(&job));
        let log = self.log.clone();
        let clock = ctx.clock.clone();
        let (start, lane) = (ctx.start, ctx.lane);
        let call = self.inner.handle(job, ctx);
        let guarded = self.inner.guarded().cloned();
        async move {
            call.await;
            if let Some(mark) = mark {
                mark.await;
            }
            // An event passed over without a try (its account was stopped) was not processed.
            let skipped = guarded.is_some_and(|g| g.was_passed_over(job.index));
            if let (Some(log), false) = (log, skipped) {
                let end = clock.now();
                log.append([job.account.0, job.event.0, u64::from(lane), start.0, end.0]);
            }
        }
    }
}
