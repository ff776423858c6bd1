//! Admission in front of the live engine: duplicate ids, the queue limit and shutdown are
//! decided here, under one lock, so two concurrent requests can never both pass a check that
//! only one of them may pass.

use super::metrics::{Metrics, Reason};
use crate::engine::clock::{Clock, PreciseClock};
use crate::engine::handler::{Job, SleepHandler};
use crate::engine::real::Engine;
use crate::live::Board;
use crate::types::{AccountId, EventId, Micros};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// The engine the server feeds.
pub type LiveEngine = Engine<SleepHandler, PreciseClock>;

/// One event as a request carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub event: EventId,
    pub account: AccountId,
    pub duration: Option<Micros>,
}

/// Where an accepted event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// 0-based position in the server's arrival order (= the engine's event index).
    pub sequence: u64,
    /// Events waiting to start once this one was queued, this one included (0 if it started
    /// right away).
    pub queued: u64,
}

/// Arrival times by event index, for the latency histogram; shared with the engine's observer.
pub struct Arrivals {
    times: Mutex<Vec<u64>>,
    clock: PreciseClock,
    pub metrics: Metrics,
    /// What the dashboard shows.
    pub live: Arc<Board>,
}

impl Arrivals {
    pub fn new(clock: PreciseClock) -> Self {
        Arrivals {
            times: Mutex::new(Vec::new()),
            clock,
            metrics: Metrics::default(),
            live: Arc::new(Board::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u64>> {
        crate::sync::lock(&self.times)
    }

    /// Called by the engine after each handler returned.
    pub fn finished(&self, job: &Job) {
        let arrival = self.lock().get(job.index.0 as usize).copied();
        if let Some(at) = arrival {
            let latency = self.clock.now().0.saturating_sub(at);
            self.metrics.observe_latency(latency);
            self.live.finish(job.account.0, job.duration.0, latency);
        }
    }
}

/// The server's shared state behind every handler.
pub struct Intake {
    engine: LiveEngine,
    arrivals: Arc<Arrivals>,
    seen: Mutex<HashSet<u64>>,
    max_queued: Option<u64>,
    closing: AtomicBool,
    process_time: Micros,
    per_event: bool,
}

impl Intake {
    pub fn new(
        engine: LiveEngine,
        arrivals: Arc<Arrivals>,
        max_queued: Option<u64>,
        process_time: Micros,
        per_event: bool,
    ) -> Self {
        Intake {
            engine,
            arrivals,
            seen: Mutex::new(HashSet::new()),
            max_queued,
            closing: AtomicBool::new(false),
            process_time,
            per_event,
        }
    }

    pub fn engine(&self) -> &LiveEngine {
        &self.engine
    }

    pub fn metrics(&self) -> &Metrics {
        &self.arrivals.metrics
    }

    pub fn live(&self) -> &Arc<Board> {
        &self.arrivals.live
    }

    /// From now on every request is refused with 503: the server is draining.
    pub fn begin_shutdown(&self) {
        self.closing.store(true, Relaxed);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

    /// Queues the event behind the earlier events of its account, or says why not.
    pub fn admit(&self, e: Incoming) -> Result<Accepted, Reason> {
        let mut seen = crate::sync::lock(&self.seen);
        if self.is_closing() {
            return Err(Reason::ShuttingDown);
        }
        if seen.contains(&e.event.0) {
            return Err(Reason::Duplicate);
        }
        let counters = self.engine.counters();
        // Under the lock the queue can only shrink behind our back, so the limit is exact.
        if self.max_queued.is_some_and(|max| counters.queued() >= max) {
            return Err(Reason::QueueFull);
        }
        let duration = self
            .per_event
            .then(|| e.duration.unwrap_or(self.process_time));
        // The arrival time goes in first: a zero-time event may finish before submit returns.
        let mut times = self.arrivals.lock();
        times.push(self.engine.now().0);
        drop(times);
        let work = duration.unwrap_or(self.process_time).0;
        self.arrivals.live.queue(e.account.0, work);
        match self.engine.submit(e.event, e.account, duration) {
            Ok(idx) => {
                seen.insert(e.event.0);
                Ok(Accepted {
                    sequence: u64::from(idx.0),
                    queued: counters.queued(),
                })
            }
            Err(_) => {
                self.arrivals.lock().pop();
                self.arrivals.live.unqueue(e.account.0, work);
                Err(Reason::ShuttingDown)
            }
        }
    }
}
