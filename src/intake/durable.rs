//! `serve`'s durable mode: opening the data dir and resuming what it holds, handing committed
//! events to the engine in store order, and marking events started and finished on disk. It
//! knows the engine only through the [`Enqueue`] it is given, so it sits below the engine side
//! (`processing.rs`), whose handler writes the start marks.

use super::committer::{CommitFailed, CommitStats, Committer, CommitterThread, OnDurable};
use super::mark::{self, Mark, MarkFeed, MarkThread, MARK_FILE};
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
    /// What a start with `--accept-data-loss` found missing; `None` when nothing was.
    pub data_loss: Option<DataLoss>,
}

/// How far the database fell short of its high-water mark, or how it was damaged, at a start
/// that was told to go on anyway (`--accept-data-loss`): the report's `data_loss`.
pub(crate) use crate::report::DataLoss;

/// The threads of an open data dir, stopped by [`Durable::close`] and joined here.
pub(crate) struct Threads {
    committer: CommitterThread,
    mark: MarkThread,
}

impl Threads {
    /// Waits for the committer's last commit, then for the mark's last write.
    pub(crate) fn join(self) -> Result<(), StoreError> {
        let committed = self.committer.join();
        self.mark.join();
        committed
    }
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
    pub thread: Threads,
    /// The resumed events, already in the workload, in store order.
    pub workload: Workload,
    /// Every event id accepted before (finished or not): refused with 409.
    pub accepted: RangeInclusiveSet<u64>,
}

impl Durable {
    /// Opens `dir`, checks it against its high-water mark (refusing a database that holds
    /// less, unless `accept_loss`), loads its unfinished events into `workload` (before
    /// anything new can arrive, so they run first in per-account order; their arrival is the
    /// engine's time 0) and starts the committer and the mark's writer.
    pub(crate) fn open(
        dir: &Path,
        mut workload: Workload,
        per_event: bool,
        process_time: Micros,
        accept_loss: bool,
    ) -> Result<Opened, StoreError> {
        let (mut store, recovered) = Store::open_checked(dir, accept_loss)?;
        let data_loss = check_mark(dir, &mut store, recovered.damage, accept_loss)?;
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
            data_loss,
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
        let accepted = store.accepted().clone();
        let now = Mark {
            accepted: accepted.clone(),
            last_seq: store.last_seq(),
        };
        let (marks, mark_thread) = MarkThread::start(dir, now).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            reason: format!("cannot write the high-water mark {MARK_FILE}: {e}"),
        })?;
        let on_durable = feed_and_mark(Arc::clone(&feed), marks);
        let (committer, thread) =
            Committer::start(store, on_durable).map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                reason: format!("cannot start the commit thread: {e}"),
            })?;
        let thread = Threads {
            committer: thread,
            mark: mark_thread,
        };
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

    /// What this start found missing, if it was told to go on anyway.
    pub(crate) fn data_loss(&self) -> Option<&DataLoss> {
        self.info.data_loss.as_ref()
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

/// Each committed batch goes to the engine, and its ids to the high-water mark.
fn feed_and_mark(feed: Arc<Feed>, marks: MarkFeed) -> OnDurable {
    Box::new(move |batch, accepted| {
        if !batch.is_empty() {
            feed.submit(batch);
            let last = batch.iter().map(|p| p.seq).max().unwrap_or(0);
            marks.committed(batch.iter().map(|p| p.event.0).collect(), last);
        }
        if !accepted.is_empty() {
            marks.accepted(accepted.iter().map(|e| e.0).collect());
        }
    })
}

/// Compares the database with its high-water mark. A database that holds less (or was
/// damaged, `damage`) is refused unless `accept_loss`; then the mark's ids are adopted (they
/// stay refused with 409) and the gap is handed back for the report.
pub(super) fn check_mark(
    dir: &Path,
    store: &mut Store,
    mut damage: Vec<String>,
    accept_loss: bool,
) -> Result<Option<DataLoss>, StoreError> {
    let refuse = |reason: String| StoreError::Open {
        path: dir.to_path_buf(),
        reason,
    };
    let mark_file = dir.join(MARK_FILE);
    let mark = match Mark::read(dir) {
        Ok(m) => m,
        Err(e) if accept_loss => {
            damage.push(format!(
                "high-water mark unreadable ({e}): nothing to compare with"
            ));
            None
        }
        Err(e) => {
            return Err(refuse(format!(
                "{e}; refusing to start without the high-water mark. Restore it, or start with \
                 --accept-data-loss to trust the database as it is"
            )))
        }
    };
    let found_accepted = mark::count(store.accepted());
    let found_last_seq = store.last_seq();
    let mut loss = DataLoss {
        mark_file: mark_file.display().to_string(),
        found_accepted,
        found_last_seq,
        ..DataLoss::default()
    };
    if let Some(m) = &mark {
        loss.mark_accepted = m.count();
        loss.mark_last_seq = m.last_seq;
        loss.missing_accepted = m
            .accepted
            .iter()
            .flat_map(|r| store.accepted().gaps(r))
            .map(|g| (g.end() - g.start()).saturating_add(1))
            .fold(0, u64::saturating_add);
    }
    let short = loss.missing_accepted > 0 || loss.found_last_seq < loss.mark_last_seq;
    if short && !accept_loss {
        return Err(refuse(format!(
            "the database holds less than its high-water mark {}: {} of {} accepted events \
             ({} missing), last sequence {} of {}; refusing to start, since events answered \
             202 would be lost without a word. Restore the data dir, or start with \
             --accept-data-loss to run with what is left (the missing ids stay refused with \
             409, and the report records the gap)",
            loss.mark_file,
            loss.found_accepted,
            loss.mark_accepted,
            loss.missing_accepted,
            seq_text(loss.found_last_seq),
            seq_text(loss.mark_last_seq),
        )));
    }
    if let (true, Some(m)) = (short, &mark) {
        store.adopt(&m.accepted, m.last_seq)?;
    }
    loss.damage = damage;
    Ok((short || !loss.damage.is_empty()).then_some(loss))
}

/// A sequence number as the messages show it.
pub(crate) fn seq_text(seq: Option<u64>) -> String {
    seq.map_or_else(|| "none".into(), |q| q.to_string())
}

/// One line on what a start with `--accept-data-loss` found.
pub(crate) fn describe_loss(loss: &DataLoss) -> String {
    let mut parts = vec![format!(
        "{} of {} accepted events of the high-water mark {} are in the database ({} missing), \
         last sequence {} of {}",
        loss.found_accepted,
        loss.mark_accepted,
        loss.mark_file,
        loss.missing_accepted,
        seq_text(loss.found_last_seq),
        seq_text(loss.mark_last_seq)
    )];
    parts.extend(loss.damage.iter().cloned());
    parts.join("; ")
}
