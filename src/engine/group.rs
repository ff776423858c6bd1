//! What both real-clock executors ([`super::real`] and [`super::own_lane`]) share: the size of
//! a group task's turn, one timed handler call tagged with its event's place, the done signal,
//! and the summary of a run once it has ended.

use super::clock::Clock;
use super::record::{Execution, Records};
use super::work::{invoke, Handler, Job};
use super::ClockKind;
use crate::types::Micros;
use futures_util::FutureExt;
use std::future::Future;
use tokio::sync::watch;

/// How much a group task does in one turn before the other groups get theirs: finished
/// handlers recorded under one lock acquisition (shared-lock executor), or first events
/// started (own-lane executor).
pub(crate) const BATCH: usize = 256;

/// A handler call that has returned, tagged with where its event sits in the executor's
/// bookkeeping (kept small: a million of these futures may be in flight).
pub(crate) struct Finished<T> {
    pub at: T,
    pub start: Micros,
    pub end: Micros,
    pub panicked: bool,
}

/// Runs one handler (see [`super::work::invoke`]); a panicking handler still ends its
/// event, and the records show when.
pub(crate) fn run_one<'a, H: Handler, C: Clock, T: Send + 'a>(
    handler: &'a H,
    clock: &'a C,
    job: Job,
    urgency: u64,
    lane: u32,
    at: T,
) -> impl Future<Output = Finished<T>> + Send + 'a {
    invoke(handler, clock, job, urgency, lane).map(move |t| Finished {
        at,
        start: t.start,
        end: t.end,
        panicked: t.panicked,
    })
}

/// Set once when the run is over; any number of waiters.
pub(crate) struct DoneSignal(watch::Sender<bool>);

impl DoneSignal {
    pub(super) fn new() -> Self {
        DoneSignal(watch::channel(false).0)
    }

    pub(super) fn fire(&self) {
        self.0.send_replace(true);
    }

    pub(super) async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }
}

/// Two groups per runtime worker, so that one busy group never leaves a worker idle.
pub(crate) fn group_count() -> usize {
    let workers = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_workers())
        .unwrap_or(1);
    (workers * 2).max(2)
}

/// What happened, once a run has ended: the wall time is the last end, and the run counts as
/// interrupted when fewer than all `events` ran.
pub(crate) fn execution(records: Records, ran: u64, events: usize, clock: ClockKind) -> Execution {
    let wall = records.spans().map(|(_, e)| e).max().unwrap_or(0);
    Execution {
        records,
        wall: Micros(wall),
        clock,
        interrupted: (ran as usize) < events,
        timer: None,
    }
}
