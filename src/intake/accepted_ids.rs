//! The accepted event ids of `serve --broker`, kept in the data dir's store (the database and
//! the ranges `serve` keeps its own in), so an id accepted before a restart is still a 409.
//!
//! An id is written after the broker confirmed its event and before the 202: a crash between
//! the two leaves a published event whose id is not on disk, and the client's retry publishes
//! it again (a duplicate the workers handle), never a 409 for an event that was lost.

use super::committer::{CommitFailed, Committer, CommitterThread};
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
    earlier: RangeInclusiveSet<u64>,
    data_dir: PathBuf,
}

impl AcceptedIds {
    /// Opens (or creates) the store in `dir`; warns when it holds unfinished events of a
    /// `serve` without `--broker`, which only such a `serve` processes.
    pub(crate) fn open(dir: &Path) -> Result<AcceptedIds, StoreError> {
        // The same checks as `serve`'s own open (quick_check, lost tables, the high-water mark
        // an earlier `serve` left): a damaged store is refused, not taken as "nothing accepted".
        // The mark itself is kept by `serve` only: an id lost here costs a duplicate publish,
        // which the workers count, never a lost event.
        let (mut store, mut recovered) = Store::open_checked(dir, false)?;
        super::durable::check_mark(
            dir,
            &mut store,
            std::mem::take(&mut recovered.damage),
            false,
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
        let (committer, thread) =
            Committer::start(store, Box::new(|_| {})).map_err(|e| StoreError::Open {
                path: dir.to_path_buf(),
                reason: format!("cannot start the commit thread: {e}"),
            })?;
        Ok(AcceptedIds {
            committer: Mutex::new(Some(committer)),
            thread: Mutex::new(Some(thread)),
            earlier,
            data_dir: dir.to_path_buf(),
        })
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

    /// Writes what is pending and closes the store; call once every request was answered.
    pub(crate) fn close(&self) -> Result<(), StoreError> {
        drop(lock(&self.committer).take());
        match lock(&self.thread).take() {
            Some(t) => t.join(),
            None => Ok(()),
        }
    }
}
