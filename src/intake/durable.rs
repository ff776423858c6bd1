//! `serve`'s durable mode: opening the data dir and resuming what it holds, handing committed
//! events to the engine in store order, and marking events started and finished on disk. It
//! knows the engine only through the [`Enqueue`] it is given, so it sits below the engine side
//! (`processing.rs`), whose handler writes the start marks.

use super::committer::{CommitFailed, CommitStats, Committer, CommitterThread, OnDurable};
use super::store::{Pending, Store, StoreError};
use crate::engine::work::Job;
use crate::sync::{lock, read, write};
use crate::types::{AccountId, EventId, Micros};
use crate::workload::Workload;
use rangemap::RangeInclusiveSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// What a durable run reports about its data dir.
#[derive(Clone, Debug, Default)]
pub struct DurableInfo {
    pub data_dir: PathBuf,
    /// Unfinished events found at start and run first.
    pub resumed: u64,
    /// Of those, the ones whose handler had started before: they run a second time.
    pub redelivered: u64,
    /// Event ids accepted by earlier processes on this data dir, finished or not: a send of
    /// them is answered 409.
    pub accepted_before: u64,
}

/// Queues one committed event in the engine; false if the engine refused it.
pub(crate) type Enqueue = Box<dyn Fn(EventId, AccountId, Option<Micros>) -> bool + Send + Sync>;

/// Maps engine event indexes to store sequence numbers, and owns the way into the engine the
/// committer feeds. Shared by the committer thread, the handler and the engine's observer.
struct Feed {
    seqs: Mutex<Vec<u64>>,
    engine: Mutex<Option<Enqueue>>,
    per_event: bool,
    process_time: Micros,
}

impl Feed {
    fn seqs(&self) -> MutexGuard<'_, Vec<u64>> {
        lock(&self.seqs)
    }

    /// Queues committed events in the engine, in store order.
    fn submit(&self, batch: &[Pending]) {
        let engine = lock(&self.engine);
        let Some(enqueue) = engine.as_ref() else {
            return;
        };
        for p in batch {
            let mut seqs = self.seqs();
            seqs.push(p.seq);
            let duration = self
                .per_event
                .then(|| p.duration.unwrap_or(self.process_time));
            if !enqueue(p.event, p.account, duration) {
                // The engine closes only after every request was answered, so this cannot
                // happen; if it did, the event is still on disk and runs at the next start.
                seqs.pop();
            }
        }
    }
}

/// The durable queue as the server sees it. See the module docs.
pub(crate) struct Durable {
    committer: RwLock<Option<Committer>>,
    feed: Arc<Feed>,
    info: DurableInfo,
    stats: Arc<CommitStats>,
    warned: Arc<AtomicBool>,
}

/// An opened data dir: the events to resume, and the committer to start once the engine runs.
pub(crate) struct Opened {
    pub durable: Arc<Durable>,
    pub thread: CommitterThread,
    /// The resumed events, already in the workload, in store order.
    pub workload: Workload,
    /// Every event id accepted before (finished or not): refused with 409.
    pub accepted: RangeInclusiveSet<u64>,
}

impl Durable {
    /// Opens `dir`, loads its unfinished events into `workload` (before anything new can
    /// arrive, so they run first in per-account order; their arrival is the engine's time 0)
    /// and starts the committer.
    pub(crate) fn open(
        dir: &Path,
        mut workload: Workload,
        per_event: bool,
        process_time: Micros,
    ) -> Result<Opened, StoreError> {
        let (store, recovered) = Store::open(dir)?;
        let mut seqs = Vec::with_capacity(recovered.pending.len());
        for p in &recovered.pending {
            let duration = per_event.then(|| p.duration.unwrap_or(process_time));
            workload.push(p.event, p.account, duration);
            seqs.push(p.seq);
        }
        let info = DurableInfo {
            data_dir: dir.to_path_buf(),
            resumed: recovered.pending.len() as u64,
            redelivered: recovered.pending.iter().filter(|p| p.started).count() as u64,
            accepted_before: store
                .accepted()
                .iter()
                .map(|r| (r.end() - r.start()).saturating_add(1))
                .fold(0u64, u64::saturating_add),
        };
        let feed = Arc::new(Feed {
            seqs: Mutex::new(seqs),
            engine: Mutex::new(None),
            per_event,
            process_time,
        });
        let fed = Arc::clone(&feed);
        let on_durable: OnDurable = Box::new(move |batch| fed.submit(batch));
        let accepted = store.accepted().clone();
        let (committer, thread) =
            Committer::start(store, on_durable).map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                reason: format!("cannot start the commit thread: {e}"),
            })?;
        let durable = Arc::new(Durable {
            stats: Arc::clone(committer.stats()),
            committer: RwLock::new(Some(committer)),
            feed,
            info,
            warned: Arc::new(AtomicBool::new(false)),
        });
        Ok(Opened {
            durable,
            thread,
            workload,
            accepted,
        })
    }

    /// From now on committed events go to the engine through `enqueue`.
    pub(crate) fn attach(&self, enqueue: Enqueue) {
        *lock(&self.feed.engine) = Some(enqueue);
    }

    /// Group-commit counters (they outlive [`Durable::close`]).
    pub(crate) fn stats(&self) -> Arc<CommitStats> {
        Arc::clone(&self.stats)
    }

    pub(crate) fn info(&self) -> &DurableInfo {
        &self.info
    }

    fn committer(&self) -> Option<Committer> {
        read(&self.committer).clone()
    }

    /// Resolves once the event is on disk and queued in the engine, with its sequence number.
    pub(crate) async fn insert(
        &self,
        event: EventId,
        account: AccountId,
        duration: Option<Micros>,
    ) -> Result<u64, CommitFailed> {
        match self.committer() {
            Some(c) => c.insert(event, account, duration).await,
            None => Err(CommitFailed("the durable queue is closed".into())),
        }
    }

    fn seq_of(&self, job: &Job) -> Option<u64> {
        self.feed.seqs().get(job.index.0 as usize).copied()
    }

    /// Queues the event's start mark now; the future resolves once it is on disk (or failed,
    /// which is reported once: processing goes on, stalling every account would not make the
    /// disk work again).
    pub(super) fn started(&self, job: &Job) -> impl Future<Output = ()> + Send + 'static {
        let mark = match (self.committer(), self.seq_of(job)) {
            (Some(c), Some(seq)) => Some(c.started(seq)),
            _ => None,
        };
        let warned = Arc::clone(&self.warned);
        async move {
            let Some(mark) = mark else { return };
            if let Err(e) = mark.await {
                if !warned.swap(true, Relaxed) {
                    eprintln!("eventbench: events run without a start mark on disk: {e}");
                }
            }
        }
    }

    /// Called after an event's handler returned, before its successor may start.
    pub(crate) fn finished(&self, job: &Job) {
        if let (Some(c), Some(seq)) = (self.committer(), self.seq_of(job)) {
            c.finished(seq);
        }
    }

    /// No more writes: the committer writes what is queued and stops (see
    /// [`CommitterThread::join`]). Also lets go of the engine.
    pub(crate) fn close(&self) {
        write(&self.committer).take();
        lock(&self.feed.engine).take();
    }
}
