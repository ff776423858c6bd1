//! Group commit: one thread owns the [`Store`] and turns everything that arrived while the
//! previous commit was syncing into the next transaction, so one fsync covers every event
//! accepted since the last one and throughput does not fall to the disk's sync rate.
//!
//! A request awaits its batch's commit before it is answered. Right after a commit, and before
//! anyone is answered, the committer hands the batch's new events to the engine in store order
//! ([`OnDurable`]), so the engine's arrival order is the order on disk.

use super::store::{Op, Pending, Store, StoreError};
use crate::types::{AccountId, EventId, Micros};
use std::sync::mpsc;
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
pub struct CommitFailed(pub String);

/// Answers a request with the sequence number of its event once it is on disk.
type Reply = oneshot::Sender<Result<u64, CommitFailed>>;

/// Called on the committer thread with each committed batch's new events, in store order.
pub type OnDurable = Box<dyn FnMut(&[Pending]) + Send>;

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
}

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Request>,
}

/// Ends the committer thread once every handle is dropped.
pub struct CommitterThread {
    thread: Option<JoinHandle<Result<(), StoreError>>>,
}

impl Committer {
    /// Starts the committer thread on an opened store.
    pub fn start(store: Store, on_durable: OnDurable) -> std::io::Result<(Self, CommitterThread)> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("eventbench-commit".into())
            .spawn(move || commit_loop(store, rx, on_durable))?;
        Ok((
            Committer { tx },
            CommitterThread {
                thread: Some(thread),
            },
        ))
    }

    /// Resolves once the event is on disk (and handed to the engine), with its sequence
    /// number in the store's arrival order, or when the write failed.
    pub async fn insert(
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

    /// Resolves once the event's start mark is on disk.
    pub async fn started(&self, seq: u64) -> Result<(), CommitFailed> {
        let (done, wait) = oneshot::channel();
        self.send_and_wait(Request::Start { seq, done }, wait)
            .await
            .map(drop)
    }

    /// Records the event as finished with the next commit; nobody waits for it (a finish
    /// lost in a crash only means the event runs again, counted as redelivered).
    pub fn finished(&self, seq: u64) {
        let _ = self.tx.send(Request::Finish(seq));
    }

    async fn send_and_wait(
        &self,
        req: Request,
        wait: oneshot::Receiver<Result<u64, CommitFailed>>,
    ) -> Result<u64, CommitFailed> {
        self.tx
            .send(req)
            .map_err(|_| CommitFailed("the durable queue has stopped".into()))?;
        wait.await
            .map_err(|_| CommitFailed("the durable queue has stopped".into()))?
    }
}

impl CommitterThread {
    /// Waits for the committer to write what is left and stop; call after every
    /// [`Committer`] handle is gone.
    pub fn join(mut self) -> Result<(), StoreError> {
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
}

impl Batch {
    fn new() -> Self {
        Batch {
            ops: Vec::new(),
            waiting: Vec::new(),
            inserted: Vec::new(),
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
        }
    }
}

fn commit_loop(
    mut store: Store,
    rx: mpsc::Receiver<Request>,
    mut on_durable: OnDurable,
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
                if !batch.inserted.is_empty() {
                    on_durable(&batch.inserted);
                }
                for (seq, w) in batch.waiting {
                    let _ = w.send(Ok(seq));
                }
            }
            Err(e) => {
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
