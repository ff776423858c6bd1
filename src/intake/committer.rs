//! Group commit: one thread owns the [`Store`] and turns everything that arrived while the
//! previous commit was syncing into the next transaction, so one fsync covers every event
//! accepted since the last one and throughput does not fall to the disk's sync rate.
//!
//! A request awaits its batch's commit before it is answered. Right after a commit, and before
//! anyone is answered, the committer hands the batch's new events to the engine in store order
//! ([`OnDurable`]), so the engine's arrival order is the order on disk.

use super::store::{Op, Pending, Store, StoreError};
use crate::types::{AccountId, EventId, Micros};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Most operations one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 8192;

/// How long the committer waits idle before it compacts the store.
const IDLE_COMPACT: Duration = Duration::from_millis(500);

/// The store refused a write (disk full, I/O error); the message says why.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CommitFailed(pub String);

/// Answers a request with the sequence number of its event once it is on disk.
type Reply = oneshot::Sender<Result<u64, CommitFailed>>;

/// Called on the committer thread with each committed batch's new events, in store order,
/// and the ids it recorded as accepted without a queue row (`serve --broker`).
pub(crate) type OnDurable = Box<dyn FnMut(&[Pending], &[EventId]) + Send>;

enum Request {
    Insert {
        event: EventId,
        account: AccountId,
        duration: Option<Micros>,
        done: Reply,
    },
    Start {
        seq: u64,
        done: Reply,
    },
    Finish(u64),
    Accept {
        event: EventId,
        done: Reply,
    },
}

/// How group commit is going, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct CommitStats {
    /// Transactions synced to disk.
    pub commits: AtomicU64,
    /// Events made durable by them.
    pub events: AtomicU64,
    /// Transactions that failed (nothing of them was kept).
    pub failures: AtomicU64,
}

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Request>,
    stats: Arc<CommitStats>,
}

/// Ends the committer thread once every handle is dropped.
pub(crate) struct CommitterThread {
    thread: Option<JoinHandle<Result<(), StoreError>>>,
}

impl Committer {
    /// Starts the committer thread on an opened store.
    pub(crate) fn start(
        store: Store,
        on_durable: OnDurable,
    ) -> std::io::Result<(Self, CommitterThread)> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(CommitStats::default());
        let counting = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("eventbench-commit".into())
            .spawn(move || commit_loop(store, rx, on_durable, &counting))?;
        Ok((
            Committer { tx, stats },
            CommitterThread {
                thread: Some(thread),
            },
        ))
    }

    pub(crate) fn stats(&self) -> &Arc<CommitStats> {
        &self.stats
    }

    /// Resolves once the event is on disk (and handed to the engine), with its sequence
    /// number in the store's arrival order, or when the write failed.
    pub(crate) async fn insert(
        &self,
        event: EventId,
        account: AccountId,
        duration: Option<Micros>,
    ) -> Result<u64, CommitFailed> {
        let (done, wait) = oneshot::channel();
        let req = Request::Insert {
            event,
            account,
            duration,
            done,
        };
        self.send_and_wait(req, wait).await
    }

    /// Resolves once `event` is on disk among the accepted ids (no queue row: `serve
    /// --broker` published it), or when the write failed.
    pub(crate) async fn accept(&self, event: EventId) -> Result<(), CommitFailed> {
        let (done, wait) = oneshot::channel();
        self.send_and_wait(Request::Accept { event, done }, wait)
            .await
            .map(drop)
    }

    /// Queues the event's start mark now; the returned future resolves once it is on disk.
    pub(crate) fn started(
        &self,
        seq: u64,
    ) -> impl std::future::Future<Output = Result<(), CommitFailed>> + Send + 'static {
        let (done, wait) = oneshot::channel();
        let sent = self.tx.send(Request::Start { seq, done }).is_ok();
        async move {
            if !sent {
                return Err(stopped());
            }
            wait.await.map_err(|_| stopped())?.map(drop)
        }
    }

    /// Records the event as finished with the next commit; nobody waits for it (a finish
    /// lost in a crash only means the event runs again, counted as redelivered).
    pub(crate) fn finished(&self, seq: u64) {
        let _ = self.tx.send(Request::Finish(seq));
    }

    async fn send_and_wait(
        &self,
        req: Request,
        wait: oneshot::Receiver<Result<u64, CommitFailed>>,
    ) -> Result<u64, CommitFailed> {
        self.tx.send(req).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

fn stopped() -> CommitFailed {
    CommitFailed("the durable queue has stopped".into())
}

impl CommitterThread {
    /// Waits for the committer to write what is left and stop; call after every
    /// [`Committer`] handle is gone.
    pub(crate) fn join(mut self) -> Result<(), StoreError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(()),
        }
    }
}

/// Who is waiting for what in the batch being written.
struct Batch {
    ops: Vec<Op>,
    waiting: Vec<(u64, Reply)>,
    inserted: Vec<Pending>,
    /// Ids recorded as accepted without a queue row.
    accepted: Vec<EventId>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            ops: Vec::new(),
            waiting: Vec::new(),
            inserted: Vec::new(),
            accepted: Vec::new(),
        }
    }

    fn add(&mut self, store: &mut Store, req: Request) {
        match req {
            Request::Insert {
                event,
                account,
                duration,
                done,
            } => {
                let p = Pending {
                    seq: store.next_seq(),
                    event,
                    account,
                    duration,
                    started: false,
                };
                self.ops.push(Op::Insert(p));
                self.inserted.push(p);
                self.waiting.push((p.seq, done));
            }
            Request::Start { seq, done } => {
                self.ops.push(Op::Start(seq));
                self.waiting.push((seq, done));
            }
            Request::Finish(seq) => self.ops.push(Op::Finish(seq)),
            Request::Accept { event, done } => {
                self.ops.push(Op::Accept(event));
                self.accepted.push(event);
                self.waiting.push((0, done));
            }
        }
    }
}

fn commit_loop(
    mut store: Store,
    rx: mpsc::Receiver<Request>,
    mut on_durable: OnDurable,
    stats: &CommitStats,
) -> Result<(), StoreError> {
    let mut last_compact = Instant::now();
    let mut dirty = false;
    loop {
        let first = match rx.recv_timeout(IDLE_COMPACT) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if dirty && store.rows() == 0 && last_compact.elapsed() >= IDLE_COMPACT {
                    // Best effort: a failure here loses nothing and shows at the next write.
                    let _ = store.compact();
                    last_compact = Instant::now();
                    dirty = false;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = Batch::new();
        batch.add(&mut store, first);
        while batch.ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.add(&mut store, r),
                Err(_) => break,
            }
        }
        dirty = true;
        match store.apply(&batch.ops) {
            Ok(()) => {
                stats.commits.fetch_add(1, Relaxed);
                stats.events.fetch_add(batch.inserted.len() as u64, Relaxed);
                if !batch.inserted.is_empty() || !batch.accepted.is_empty() {
                    on_durable(&batch.inserted, &batch.accepted);
                }
                for (seq, w) in batch.waiting {
                    let _ = w.send(Ok(seq));
                }
            }
            Err(e) => {
                stats.failures.fetch_add(1, Relaxed);
                let failed = CommitFailed(format!("cannot write the durable queue: {e}"));
                eprintln!("eventbench: {failed}");
                for (_, w) in batch.waiting {
                    let _ = w.send(Err(failed.clone()));
                }
            }
        }
    }
    if store.rows() == 0 {
        store.compact()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn started(dir: &std::path::Path) -> (Committer, CommitterThread, Arc<Mutex<Vec<Pending>>>) {
        let (store, _) = Store::open(dir).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let on_durable: OnDurable = Box::new(move |b, _| sink.lock().unwrap().extend_from_slice(b));
        let (c, t) = Committer::start(store, on_durable).unwrap();
        (c, t, seen)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_share_commits_and_reach_the_engine_in_store_order() {
        let dir = tempfile::tempdir().unwrap();
        let (c, thread, seen) = started(dir.path());
        let tasks: Vec<_> = (0..400u64)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { c.insert(EventId(i), AccountId(i % 9), None).await })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().unwrap());
        }
        let stats = Arc::clone(c.stats());
        let commits = stats.commits.load(Relaxed);
        assert_eq!(stats.events.load(Relaxed), 400);
        assert!(commits < 200, "{commits} commits for 400 concurrent events");
        let fed = seen.lock().unwrap().clone();
        assert_eq!(fed.len(), 400);
        assert!(
            fed.windows(2).all(|w| w[0].seq < w[1].seq),
            "fed out of store order"
        );
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 400, "every event got its own sequence number");
        drop(c);
        thread.join().unwrap();
        let (_, rec) = Store::open(dir.path()).unwrap();
        assert_eq!(rec.pending.len(), 400);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_answers_every_waiter_and_keeps_only_what_was_answered_ok() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        // No page more than the empty schema: the first batch that needs one fails.
        store.limit_pages(1);
        let (c, thread) = Committer::start(store, Box::new(|_, _| {})).unwrap();
        let tasks: Vec<_> = (0..2000u64)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { c.insert(EventId(i * 7), AccountId(i), None).await })
            })
            .collect();
        let mut ok = 0;
        let mut full = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(e.0.contains("full"), "{e}");
                    full += 1;
                }
            }
        }
        assert!(full > 0, "the store never filled");
        assert!(c.stats().failures.load(Relaxed) > 0);
        drop(c);
        thread.join().unwrap();
        let (_, rec) = Store::open(dir.path()).unwrap();
        assert_eq!(
            rec.pending.len(),
            ok,
            "exactly the events answered Ok are on disk"
        );
    }
}
