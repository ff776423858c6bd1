//! Admission in front of the live engine: duplicate ids, the queue limit and shutdown are
//! decided here, under one lock, so two concurrent requests can never both pass a check that
//! only one of them may pass. An admitted event then goes to the intake's [`Storage`]: straight
//! into the engine, or first onto disk.

use super::durable::Durable;
use super::metrics::{Metrics, Reason};
use super::parse::Incoming;
use super::processing::{Arrivals, LiveEngine};
use crate::live::Board;
use crate::types::Micros;
use rangemap::RangeInclusiveSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// Where admitted events are kept until they run. (RabbitMQ is the other target, see
/// `api::Target`.)
pub(crate) enum Storage {
    /// Straight into the engine: lost if the process dies (`--in-memory`).
    Memory,
    /// Onto disk first (group commit), then into the engine; answered once on disk.
    Durable(Arc<Durable>),
}

/// Where an accepted event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// 0-based position in the server's arrival order: the engine's event index in memory,
    /// the store's sequence number (which goes on across restarts) in durable mode.
    pub sequence: u64,
    /// Events waiting to start once this one was queued, this one included (0 if it started
    /// right away).
    pub queued: u64,
}

/// One admitted event waiting for its commit, counted for the queue limit while it lives.
struct Pending<'a>(&'a AtomicU64);

impl<'a> Pending<'a> {
    fn count(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Relaxed);
        Pending(counter)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// The server's shared state behind every handler.
pub(crate) struct Intake {
    engine: LiveEngine,
    arrivals: Arc<Arrivals>,
    /// Every id accepted (or being written): ids mostly arrive in runs, so ranges stay few.
    seen: Mutex<RangeInclusiveSet<u64>>,
    storage: Storage,
    /// Admitted events not yet in the engine (waiting for their commit).
    committing: AtomicU64,
    max_queued: Option<u64>,
    closing: AtomicBool,
    process_time: Micros,
    per_event: bool,
}

impl Intake {
    pub(crate) fn new(
        engine: LiveEngine,
        arrivals: Arc<Arrivals>,
        storage: Storage,
        accepted: RangeInclusiveSet<u64>,
        max_queued: Option<u64>,
        process_time: Micros,
        per_event: bool,
    ) -> Self {
        Intake {
            engine,
            arrivals,
            seen: Mutex::new(accepted),
            storage,
            committing: AtomicU64::new(0),
            max_queued,
            closing: AtomicBool::new(false),
            process_time,
            per_event,
        }
    }

    pub(crate) fn engine(&self) -> &LiveEngine {
        &self.engine
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.arrivals.metrics
    }

    pub(crate) fn live(&self) -> &Arc<Board> {
        &self.arrivals.live
    }

    /// From now on every request is refused with 503: the server is draining.
    pub(crate) fn begin_shutdown(&self) {
        self.closing.store(true, Relaxed);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

    /// The durable queue, in durable mode.
    pub(crate) fn durable(&self) -> Option<&Arc<Durable>> {
        match &self.storage {
            Storage::Durable(d) => Some(d),
            Storage::Memory => None,
        }
    }

    fn seen(&self) -> MutexGuard<'_, RangeInclusiveSet<u64>> {
        crate::sync::lock(&self.seen)
    }

    /// Queues the event behind the earlier events of its account, or says why not. In
    /// durable mode this returns only once the event is on disk.
    pub(crate) async fn admit(&self, e: Incoming) -> Result<Accepted, Reason> {
        let durable = match &self.storage {
            Storage::Memory => return self.admit_in_memory(e),
            Storage::Durable(d) => d,
        };
        let duration = self
            .per_event
            .then(|| e.duration.unwrap_or(self.process_time));
        // Counted under the lock, so the queue limit is never exceeded; a guard, not a decrement
        // after the await, because a client that hangs up drops this future mid-commit (the
        // event is still committed and processed).
        let pending = {
            let mut seen = self.seen();
            self.check(&seen, e, self.committing.load(Relaxed))?;
            // Reserved now, so a concurrent request with the same id gets its 409 at once.
            seen.insert(e.event.0..=e.event.0);
            Pending::count(&self.committing)
        };
        let written = durable.insert(e.event, e.account, duration).await;
        drop(pending);
        match written {
            Ok(seq) => Ok(Accepted {
                sequence: seq,
                queued: self.engine.counters().queued(),
            }),
            Err(_) => {
                self.seen().remove(e.event.0..=e.event.0);
                Err(Reason::StorageFailed)
            }
        }
    }

    /// The checks every event passes, under the `seen` lock.
    fn check(&self, seen: &RangeInclusiveSet<u64>, e: Incoming, extra: u64) -> Result<(), Reason> {
        if self.is_closing() {
            return Err(Reason::ShuttingDown);
        }
        if seen.contains(&e.event.0) {
            return Err(Reason::Duplicate);
        }
        // Under the lock the queue can only shrink behind our back, so the limit is exact.
        let queued = self.engine.counters().queued() + extra;
        if self.max_queued.is_some_and(|max| queued >= max) {
            return Err(Reason::QueueFull);
        }
        Ok(())
    }

    fn admit_in_memory(&self, e: Incoming) -> Result<Accepted, Reason> {
        let mut seen = self.seen();
        self.check(&seen, e, 0)?;
        let counters = self.engine.counters();
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
                seen.insert(e.event.0..=e.event.0);
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
