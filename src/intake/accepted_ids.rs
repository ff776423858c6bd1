//! The accepted event ids of `serve --broker`, kept in the data dir's store (the database and
//! the ranges `serve` keeps its own in), so an id accepted before a restart is still a 409.
//!
//! An id is written after the broker confirmed its event and before the 202: a crash between
//! the two leaves a published event whose id is not on disk, and the client's retry publishes
//! it again (a duplicate the workers handle), never a 409 for an event that was lost.
//!
//! The ids also go to the data dir's high-water mark (see [`super::mark`]), as `serve`'s do: a
//! database that lost some is refused at the next start (or, with `--accept-data-loss`, adopts
//! the mark's ids, so they stay a 409) instead of taking them for new.

use super::committer::{CommitFailed, Committer, CommitterThread};
use super::durable::DataLoss;
use super::mark::{Mark, MarkThread, MARK_FILE};
use super::store::{Store, StoreError};
use crate::sync::lock;
use crate::types::EventId;
use rangemap::RangeInclusiveSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The open store of a `serve --broker` and the ids earlier processes accepted.
pub(crate) struct AcceptedIds {
    committer: Mutex<Option<Committer>>,
    thread: Mutex<Option<CommitterThread>>,
    mark: Mutex<Option<MarkThread>>,
    earlier: RangeInclusiveSet<u64>,
    data_dir: PathBuf,
    data_loss: Option<DataLoss>,
}

impl AcceptedIds {
    /// Opens (or creates) the store in `dir`; warns when it holds unfinished events of a
    /// `serve` without `--broker`, which only such a `serve` processes. A store that holds less
    /// than its high-water mark, or is damaged, is refused unless `accept_loss`.
    pub(crate) fn open(dir: &Path, accept_loss: bool) -> Result<AcceptedIds, StoreError> {
        // The same checks as `serve`'s own open (quick_check, lost tables, the high-water mark):
        // a damaged store is refused, not taken as "nothing accepted".
        let (mut store, mut recovered) = Store::open_checked(dir, accept_loss)?;
        let data_loss = super::durable::check_mark(
            dir,
            &mut store,
            std::mem::take(&mut recovered.damage),
            accept_loss,
        )?;
        if !recovered.pending.is_empty() {
            eprintln!(
                "warning: data dir {} holds {} unfinished events of `serve` without --broker; \
                 they stay there for it (serve --broker publishes only new events)",
                dir.display(),
                recovered.pending.len()
            );
        }
        let earlier = store.accepted().clone();
        let now = Mark {
            accepted: earlier.clone(),
            last_seq: store.last_seq(),
        };
        let refuse = |reason: String| StoreError::Open {
            path: dir.to_path_buf(),
            reason,
        };
        let (marks, mark) = MarkThread::start(dir, now)
            .map_err(|e| refuse(format!("cannot write the high-water mark {MARK_FILE}: {e}")))?;
        let on_durable = Box::new(move |_: &[_], ids: &[crate::types::EventId]| {
            marks.accepted(ids.iter().map(|e| e.0).collect());
        });
        let (committer, thread) = Committer::start(store, on_durable)
            .map_err(|e| refuse(format!("cannot start the commit thread: {e}")))?;
        Ok(AcceptedIds {
            committer: Mutex::new(Some(committer)),
            thread: Mutex::new(Some(thread)),
            mark: Mutex::new(Some(mark)),
            earlier,
            data_dir: dir.to_path_buf(),
            data_loss,
        })
    }

    /// What a start with `--accept-data-loss` found missing or damaged; `None` when nothing.
    pub(crate) fn data_loss(&self) -> Option<&DataLoss> {
        self.data_loss.as_ref()
    }

    /// True when an earlier process accepted `id`.
    pub(crate) fn accepted_before(&self, id: u64) -> bool {
        self.earlier.contains(&id)
    }

    /// Resolves once `id` is on disk.
    pub(crate) async fn record(&self, id: u64) -> Result<(), CommitFailed> {
        let committer = lock(&self.committer).clone();
        match committer {
            Some(c) => c.accept(EventId(id)).await,
            None => Err(CommitFailed("the data dir is closed".into())),
        }
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Writes what is pending and closes the store, then brings the mark up to date; call
    /// once every request was answered.
    pub(crate) fn close(&self) -> Result<(), StoreError> {
        drop(lock(&self.committer).take());
        let closed = match lock(&self.thread).take() {
            Some(t) => t.join(),
            None => Ok(()),
        };
        // The commit thread is gone, and with it the mark's feed: its last write follows.
        if let Some(m) = lock(&self.mark).take() {
            m.join();
        }
        closed
    }
}
