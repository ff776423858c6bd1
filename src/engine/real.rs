//! The real executor: runs handlers as tokio tasks under a scheduler, on a real (or paused
//! tokio) clock, for preloaded workloads and for events that arrive while it runs.
//!
//! Handlers run inside a few *group* tasks (two per runtime worker), each driving its in-flight
//! handlers through a `FuturesUnordered`: a million sleeping handlers cost a small node each
//! instead of a tokio task each. A group gathers every handler that has finished, then takes
//! the one mutex over scheduler and records once for the whole batch: it records them, tells
//! the scheduler, and starts whatever the policy picks next. The lock is never held across a
//! handler. Display code never runs here: progress is read from counters by whoever shows it.

use super::clock::Clock;
use super::group::{self, DoneSignal, BATCH};
use super::record::{Execution, Records};
use super::scheduler::{Dispatch, Scheduler, Slot};
use super::work::{Handler, Job};
use super::{ClockKind, Strategy};
use crate::sync::lock;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use crate::workload::Workload;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};

/// An event to start, with what its handler is told.
type Work = (Dispatch, Job);

/// Called with each job after its handler returned and before its successor may start, so
/// callbacks of one account run in arrival order (the broker acks from here).
pub type Observer = Arc<dyn Fn(&Job) + Send + Sync>;

/// Live counters, readable at any time without taking the engine's lock.
#[derive(Debug, Default)]
pub struct Counters {
    pub arrived: AtomicU64,
    pub finished: AtomicU64,
    pub in_flight: AtomicU64,
    pub panicked: AtomicU64,
}

impl Counters {
    /// Events accepted but not started yet.
    pub fn queued(&self) -> u64 {
        let arrived = self.arrived.load(Relaxed);
        let started = self.finished.load(Relaxed) + self.in_flight.load(Relaxed);
        arrived.saturating_sub(started)
    }
}

/// Why an event was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the engine is shutting down and accepts no more events")]
    Closed,
}

struct Core {
    workload: Workload,
    sched: Box<dyn Scheduler>,
    records: Records,
    closed: bool,
    stopping: bool,
}

struct Shared<H, C> {
    core: Mutex<Core>,
    handler: H,
    clock: C,
    counters: Counters,
    observer: Option<Observer>,
    done: DoneSignal,
    /// Where live arrivals are handed to groups; emptied when the engine is done, which is
    /// what lets the groups end.
    inboxes: Mutex<Vec<mpsc::UnboundedSender<Work>>>,
    next_inbox: AtomicUsize,
    /// Set by [`Engine::abandon`]: the groups drop the handlers they run and end, and a
    /// handler that returns anyway is no longer recorded.
    abandoned: AtomicBool,
    abandon: watch::Sender<bool>,
}

/// A workload already sitting in its per-account queues, ready for [`Engine::launch`].
pub struct Backlog {
    workload: Workload,
    sched: Box<dyn Scheduler>,
    records: Records,
}

impl Backlog {
    pub fn new(workload: Workload, strategy: Strategy, lanes: Option<u64>) -> Self {
        let mut sched = super::sim::scheduler_for(strategy, lanes, &workload, ClockKind::Real);
        for e in workload.indexes() {
            sched.arrive(&workload, e);
        }
        let records = Records::batch(workload.len());
        Backlog {
            workload,
            sched,
            records,
        }
    }
}

/// A running engine. See the module docs.
pub struct Engine<H, C> {
    shared: Arc<Shared<H, C>>,
}

impl<H, C> Clone for Engine<H, C> {
    fn clone(&self) -> Self {
        Engine {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<H: Handler, C: Clock> Engine<H, C> {
    /// Starts processing `workload` (empty for a live run) with `strategy` on `lanes` lanes
    /// (`None`: one per account). Preloaded events all entered the queue at time 0. Must be
    /// called inside a tokio runtime.
    pub fn start(
        workload: Workload,
        strategy: Strategy,
        lanes: Option<u64>,
        handler: H,
        clock: C,
        observer: Option<Observer>,
    ) -> Self {
        Self::launch(
            Backlog::new(workload, strategy, lanes),
            handler,
            clock,
            observer,
        )
    }

    /// Starts processing a prepared backlog. Time 0 of `clock` should be now: queueing ten
    /// million events takes a second, and that is loading, not processing.
    pub fn launch(backlog: Backlog, handler: H, clock: C, observer: Option<Observer>) -> Self {
        let Backlog {
            workload,
            sched,
            records,
        } = backlog;
        let counters = Counters::default();
        counters.arrived.store(workload.len() as u64, Relaxed);
        let done = DoneSignal::new();
        let groups = group::group_count();
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..groups).map(|_| mpsc::unbounded_channel()).unzip();
        let engine = Engine {
            shared: Arc::new(Shared {
                core: Mutex::new(Core {
                    workload,
                    sched,
                    records,
                    closed: false,
                    stopping: false,
                }),
                handler,
                clock,
                counters,
                observer,
                done,
                inboxes: Mutex::new(senders),
                next_inbox: AtomicUsize::new(0),
                abandoned: AtomicBool::new(false),
                abandon: watch::channel(false).0,
            }),
        };
        // The groups pull the backlog themselves, a batch at a time, so the first events start
        // at once rather than after a million dispatch decisions.
        for inbox in receivers {
            // Subscribed here, not in the task: an abandon before its first poll still counts.
            let abandon = engine.shared.abandon.subscribe();
            tokio::spawn(group(Arc::clone(&engine.shared), inbox, abandon));
        }
        engine
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        lock(&self.shared.core)
    }

    /// Appends a live event to its account's queue; it starts as soon as the policy allows.
    pub fn submit(
        &self,
        event: EventId,
        account: AccountId,
        duration: Option<Micros>,
    ) -> Result<EventIdx, Rejected> {
        let now = self.shared.clock.now();
        let (idx, jobs) = {
            let mut core = self.lock();
            if core.closed || core.stopping {
                return Err(Rejected::Closed);
            }
            let idx = core.workload.push(event, account, duration);
            core.records.push_arrival(now);
            let Core {
                workload, sched, ..
            } = &mut *core;
            sched.arrive(workload, idx);
            self.shared.counters.arrived.fetch_add(1, Relaxed);
            (idx, self.dispatch_all(&mut core))
        };
        self.spawn_all(jobs);
        Ok(idx)
    }

    /// No more arrivals: the engine finishes once every accepted event has run.
    pub fn close(&self) {
        let mut core = self.lock();
        core.closed = true;
        check_done(&self.shared, &core);
    }

    /// No more starts: the engine finishes once the events in flight have ended.
    pub fn stop(&self) {
        let mut core = self.lock();
        core.closed = true;
        core.stopping = true;
        check_done(&self.shared, &core);
    }

    /// No more starts, and no waiting for the events in flight either: their handlers are
    /// dropped where they are, and they stay without a record, like the events never started
    /// (see [`Engine::unstarted`]). The engine is done at once.
    pub fn abandon(&self) {
        {
            // Under the lock, so that a group recording a batch sees it (see `complete`).
            let mut core = self.lock();
            core.closed = true;
            core.stopping = true;
            self.shared.abandoned.store(true, Relaxed);
        }
        self.shared.abandon.send_replace(true);
        self.shared.done.fire();
        lock(&self.shared.inboxes).clear();
    }

    /// Waits until the engine is done (see [`Engine::close`], [`Engine::stop`] and
    /// [`Engine::abandon`]).
    pub async fn wait(&self) {
        self.shared.done.wait().await;
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The run's current time on its clock.
    pub fn now(&self) -> Micros {
        self.shared.clock.now()
    }

    /// The workload and what happened to it; call after [`Engine::wait`].
    pub fn finish(self, clock: ClockKind) -> (Workload, Execution) {
        let mut core = self.lock();
        let records = std::mem::take(&mut core.records);
        let workload = std::mem::replace(
            &mut core.workload,
            Workload::new(crate::workload::Source::Live(String::new()), Micros::ZERO),
        );
        let ran = self.shared.counters.finished.load(Relaxed);
        let execution = group::execution(records, ran, workload.len(), clock);
        (workload, execution)
    }

    /// Copies of the events accepted but never finished: never started, or abandoned while
    /// they ran (for a hand-back after a drain timeout), in arrival order.
    pub fn unstarted(&self) -> Vec<(EventId, AccountId, Micros)> {
        let core = self.lock();
        let w = &core.workload;
        w.indexes()
            .filter(|&e| core.records.get(e).is_none())
            .map(|e| (w.event_id(e), w.account_id(w.account_of(e)), w.duration(e)))
            .collect()
    }

    fn dispatch_all(&self, core: &mut Core) -> Vec<Work> {
        let mut jobs = Vec::new();
        while let Some(j) = next_job(&self.shared, core) {
            jobs.push(j);
        }
        jobs
    }

    /// Hands live work to the groups, round-robin.
    fn spawn_all(&self, jobs: Vec<Work>) {
        let inboxes = lock(&self.shared.inboxes);
        for job in jobs {
            let i = self.shared.next_inbox.fetch_add(1, Relaxed) % inboxes.len().max(1);
            if let Some(inbox) = inboxes.get(i) {
                // A group outlives its inbox sender, so a send can only fail after the engine
                // is done, when no work is dispatched any more.
                let _ = inbox.send(job);
            }
        }
    }
}

fn next_job<H, C>(shared: &Shared<H, C>, core: &mut Core) -> Option<Work> {
    if core.stopping {
        return None;
    }
    let d = core.sched.next(&core.workload)?;
    shared.counters.in_flight.fetch_add(1, Relaxed);
    Some((d, job_of(&core.workload, d.slot.event)))
}

/// What a handler is told about an event.
fn job_of(w: &Workload, e: EventIdx) -> Job {
    Job {
        index: e,
        event: w.event_id(e),
        account: w.account_id(w.account_of(e)),
        duration: w.duration(e),
    }
}

fn check_done<H, C>(shared: &Shared<H, C>, core: &Core) {
    let c = &shared.counters;
    let idle = c.in_flight.load(Relaxed) == 0;
    let all_ran = c.finished.load(Relaxed) == c.arrived.load(Relaxed);
    if idle && ((core.closed && all_ran) || core.stopping) {
        shared.done.fire();
        lock(&shared.inboxes).clear();
    }
}

/// A handler call that has returned. Only the slot is kept, not the job: a million of these
/// futures may be in flight, and every byte counts a megabyte.
type Finished = group::Finished<Slot>;

/// Runs one handler (see [`super::work::invoke`]).
fn run_one<'a, H: Handler, C: Clock>(
    shared: &'a Shared<H, C>,
    (d, job): Work,
) -> impl std::future::Future<Output = Finished> + Send + 'a {
    group::run_one(
        &shared.handler,
        &shared.clock,
        job,
        d.urgency,
        d.slot.lane.0,
        d.slot,
    )
}

/// A group task: runs its share of the handlers until the engine is done.
async fn group<H: Handler, C: Clock>(
    shared: Arc<Shared<H, C>>,
    mut inbox: mpsc::UnboundedReceiver<Work>,
    mut abandon: watch::Receiver<bool>,
) {
    let shared = &*shared;
    let mut running = FuturesUnordered::new();
    let mut finished: Vec<Finished> = Vec::with_capacity(BATCH);
    let mut next = Vec::new();
    let mut inbox_open = true;
    // More work may be startable than the last batch took (the backlog at launch).
    let mut more = true;
    loop {
        if more {
            more = complete(shared, &mut finished, &mut next);
            for work in next.drain(..) {
                running.push(run_one(shared, work));
            }
            // Let the other groups take their share of the backlog too.
            tokio::task::yield_now().await;
        }
        tokio::select! {
            biased;
            // Dropping `running` drops the handlers in flight (a child process is killed).
            // It only ever changes to true.
            _ = abandon.changed() => return,
            Some(first) = running.next(), if !running.is_empty() => {
                finished.push(first);
                // Take every handler that is already done, then lock once for all of them.
                while finished.len() < BATCH {
                    match running.next().now_or_never() {
                        Some(Some(f)) => finished.push(f),
                        _ => break,
                    }
                }
                more = complete(shared, &mut finished, &mut next);
                for work in next.drain(..) {
                    running.push(run_one(shared, work));
                }
                // Zero-time handlers never return Pending; give the worker back now and then.
                tokio::task::consume_budget().await;
            }
            work = inbox.recv(), if inbox_open => match work {
                Some(work) => running.push(run_one(shared, work)),
                None => inbox_open = false,
            },
            _ = std::future::ready(()), if more => {}
            else => return,
        }
    }
}

/// Records a batch of finished handlers and collects what the policy starts next: at most a
/// batch more than finished, so one group never swallows a whole backlog. Returns true when
/// that limit cut the collection short.
fn complete<H, C>(
    shared: &Shared<H, C>,
    finished: &mut Vec<Finished>,
    next: &mut Vec<Work>,
) -> bool {
    if shared.abandoned.load(Relaxed) {
        // The run has been handed back without these: recording them now would count an
        // event both as finished and as handed back.
        finished.clear();
        return false;
    }
    let panicked = finished.iter().filter(|f| f.panicked).count() as u64;
    shared.counters.panicked.fetch_add(panicked, Relaxed);
    if let Some(observe) = &shared.observer {
        // Before the scheduler hears of them, so an account's next event cannot start first;
        // and outside the lock, since observers take locks of their own.
        let jobs: Vec<Job> = {
            let core = lock(&shared.core);
            finished
                .iter()
                .map(|f| job_of(&core.workload, f.at.event))
                .collect()
        };
        jobs.iter().for_each(|job| observe(job));
    }
    let mut core = lock(&shared.core);
    if shared.abandoned.load(Relaxed) {
        finished.clear();
        return false;
    }
    let Core {
        workload,
        sched,
        records,
        ..
    } = &mut *core;
    let n = finished.len() as u64;
    let limit = finished.len() + BATCH;
    for f in finished.drain(..) {
        records.set(f.at.event, f.start, f.end, f.at.lane);
        sched.finish(workload, f.at);
    }
    shared.counters.in_flight.fetch_sub(n, Relaxed);
    shared.counters.finished.fetch_add(n, Relaxed);
    while next.len() < limit {
        match next_job(shared, &mut core) {
            Some(work) => next.push(work),
            None => break,
        }
    }
    let more = next.len() == limit;
    check_done(shared, &core);
    more
}

/// Runs a preloaded workload to completion (or until `stop` is called on the returned engine
/// from elsewhere), returning the workload and what happened.
pub async fn run_batch<H: Handler, C: Clock>(
    workload: Workload,
    strategy: Strategy,
    lanes: Option<u64>,
    handler: H,
    clock: C,
) -> (Workload, Execution) {
    let engine = Engine::start(workload, strategy, lanes, handler, clock, None);
    engine.close();
    engine.wait().await;
    engine.finish(ClockKind::Real)
}

#[cfg(test)]
mod tests;
