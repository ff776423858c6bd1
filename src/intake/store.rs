//! The durable queue of `serve`: accepted events, their start and finish marks, and every
//! event id ever accepted, in one SQLite database (WAL mode, `synchronous=FULL`).
//!
//! SQLite because people trust it with their data, one transaction covers the queue and the
//! accepted ids, and its group-commit throughput was level with fjall's and ahead of redb's on
//! this machine (all three are bound by the disk's sync rate; results/2026-11-28-durable-intake/).
//! The store is synchronous; [`super::committer`] owns it on its own thread and batches
//! everything that arrives during one commit into the next one (group commit).
//!
//! Disk stays bounded: a finished event's row is deleted, the accepted ids are kept as ranges
//! (ids that arrive in sequence collapse into one row), freed pages are handed back to the file
//! system when the queue is empty, and the WAL is truncated at each checkpoint.

use crate::types::{AccountId, EventId, Micros};
use rangemap::RangeInclusiveSet;
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The database file inside the data directory.
pub(crate) const DB_FILE: &str = "queue.sqlite";

/// Bumped when the schema changes incompatibly; a data dir of another version is refused.
const SCHEMA_VERSION: i64 = 1;

/// The WAL is cut back to this size after a checkpoint.
const WAL_LIMIT_BYTES: i64 = 4 << 20;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("data dir {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    #[error("data dir {}: {source}", path.display())]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// One accepted event that has not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Position in the store's arrival order (increasing, with gaps where events finished).
    pub seq: u64,
    pub event: EventId,
    pub account: AccountId,
    /// Its own duration, when the server honours per-event durations.
    pub duration: Option<Micros>,
    /// Its handler had started (a durable start mark), so running it again is a redelivery.
    pub started: bool,
}

/// One change; a batch of them is one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Insert(Pending),
    /// An event id accepted elsewhere (`serve --broker` published it): kept among the
    /// accepted ids only, with no queue row.
    Accept(EventId),
    Start(u64),
    Finish(u64),
}

impl Op {
    /// The event id this op adds to the accepted ids.
    fn accepted_id(&self) -> Option<u64> {
        match self {
            Op::Insert(p) => Some(p.event.0),
            Op::Accept(id) => Some(id.0),
            Op::Start(_) | Op::Finish(_) => None,
        }
    }
}

/// The open store. See the module docs.
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
    accepted: RangeInclusiveSet<u64>,
    next_seq: u64,
    /// Rows in the queue table (inserted, not finished).
    rows: u64,
}

/// What a store held when it was opened.
pub(crate) struct Recovered {
    /// Unfinished events in arrival order.
    pub pending: Vec<Pending>,
    /// What was wrong with the database (`PRAGMA quick_check` findings, missing tables), when
    /// the open was told to go on anyway; empty for a sound one.
    pub damage: Vec<String>,
}

/// SQLite keeps ids as signed 64-bit integers: u64 ids are stored bit for bit.
fn to_sql(v: u64) -> i64 {
    v as i64
}

fn from_sql(v: i64) -> u64 {
    v as u64
}

impl Store {
    /// Opens (or creates) the store in `dir`, creating the directory, and proves it writable
    /// with a synced write before any request is answered. The store stays locked while open:
    /// two servers on one data dir would run the same events twice.
    #[cfg(test)]
    pub(crate) fn open(dir: &Path) -> Result<(Store, Recovered), StoreError> {
        Self::open_checked(dir, false)
    }

    /// [`Store::open`], which refuses a database that fails `PRAGMA quick_check` or lost a
    /// table, unless `accept_damage`: then the findings come back in [`Recovered::damage`]
    /// and the missing tables are created empty.
    pub(crate) fn open_checked(
        dir: &Path,
        accept_damage: bool,
    ) -> Result<(Store, Recovered), StoreError> {
        Self::open_locked(dir, accept_damage).map_err(|e| match e {
            StoreError::Sql {
                path,
                source: rusqlite::Error::SqliteFailure(f, _),
            } if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
            {
                StoreError::Open {
                    path,
                    reason: "in use by another process (one eventbench serve per data dir)".into(),
                }
            }
            e => e,
        })
    }

    fn open_locked(dir: &Path, accept_damage: bool) -> Result<(Store, Recovered), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            reason: format!("cannot create it: {e}"),
        })?;
        let file = dir.join(DB_FILE);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sql = |e| sql_error(dir, e);
        let conn = Connection::open_with_flags(&file, flags).map_err(sql)?;
        // Another holder of the lock is another server: fail now rather than wait.
        conn.busy_timeout(std::time::Duration::ZERO).map_err(sql)?;
        // Exclusive locking: the first write takes the lock and keeps it until close (and the
        // WAL index lives in memory, no -shm file). auto_vacuum only takes effect before the
        // first table exists.
        conn.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA auto_vacuum = INCREMENTAL;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;",
        )
        .map_err(sql)?;
        conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)
            .map_err(sql)?;
        let damage = check::inspect(&conn).map_err(sql)?;
        if !damage.is_empty() && !accept_damage {
            return Err(StoreError::Open {
                path: dir.to_path_buf(),
                reason: format!(
                    "{} is damaged: {}; refusing to start (accepted events may be lost). Restore \
                     the data dir, or start with --accept-data-loss to run with what is left",
                    file.display(),
                    damage.join("; ")
                ),
            });
        }
        let mut store = Store {
            conn,
            path: dir.to_path_buf(),
            accepted: RangeInclusiveSet::new(),
            next_seq: 0,
            rows: 0,
        };
        store.init_schema()?;
        let mut recovered = store.load()?;
        recovered.damage = damage;
        Ok((store, recovered))
    }

    fn init_schema(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_error(&self.path, e))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS queue (
                 seq INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,
                 account_id INTEGER NOT NULL, duration_us INTEGER,
                 started INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS accepted (lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL);",
        )
        .map_err(|e| sql_error(&self.path, e))?;
        let version: Option<i64> = tx
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| sql_error(&self.path, e))?;
        match version {
            Some(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(StoreError::Open {
                    path: self.path.clone(),
                    reason: format!(
                    "written by another eventbench (schema {v}, this one reads {SCHEMA_VERSION})"
                ),
                })
            }
            // Written on every fresh open too: the synced commit proves the dir is writable.
            None => {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(|e| sql_error(&self.path, e))?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', strftime('%s','now'))",
            [],
        )
        .map_err(|e| sql_error(&self.path, e))?;
        tx.commit().map_err(|e| sql_error(&self.path, e))
    }

    fn load(&mut self) -> Result<Recovered, StoreError> {
        let path = self.path.clone();
        let err = |e| sql_error(&path, e);
        let mut ranges = self
            .conn
            .prepare("SELECT lo, hi FROM accepted")
            .map_err(err)?;
        let rows = ranges
            .query_map([], |r| Ok((from_sql(r.get(0)?), from_sql(r.get(1)?))))
            .map_err(err)?;
        let mut accepted = RangeInclusiveSet::new();
        for row in rows {
            let (lo, hi) = row.map_err(err)?;
            accepted.insert(lo..=hi);
        }
        drop(ranges);
        let mut queue = self
            .conn
            .prepare(
                "SELECT seq, event_id, account_id, duration_us, started FROM queue ORDER BY seq",
            )
            .map_err(err)?;
        let pending: Vec<Pending> = queue
            .query_map([], |r| {
                Ok(Pending {
                    seq: from_sql(r.get(0)?),
                    event: EventId(from_sql(r.get(1)?)),
                    account: AccountId(from_sql(r.get(2)?)),
                    duration: r.get::<_, Option<i64>>(3)?.map(|d| Micros(from_sql(d))),
                    started: r.get::<_, i64>(4)? != 0,
                })
            })
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        drop(queue);
        let max_seq: Option<i64> = self
            .conn
            .query_row("SELECT max(seq) FROM queue", [], |r| r.get(0))
            .map_err(err)?;
        let last_seq: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'next_seq'", [], |r| {
                r.get(0)
            })
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(err)?;
        self.next_seq = max_seq
            .map_or(0, |s| from_sql(s) + 1)
            .max(last_seq.map_or(0, from_sql));
        self.accepted = accepted;
        self.rows = pending.len() as u64;
        Ok(Recovered {
            pending,
            damage: Vec::new(),
        })
    }

    /// The last sequence number given to an event; `None` before the first.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.next_seq.checked_sub(1)
    }

    /// Every event id accepted so far (finished or not).
    pub(crate) fn accepted(&self) -> &RangeInclusiveSet<u64> {
        &self.accepted
    }

    /// The sequence number the next inserted event gets.
    pub(crate) fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Unfinished events in the store.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Applies `ops` in one transaction and syncs it to disk; on error nothing of it is kept.
    pub(crate) fn apply(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        match self.write(ops) {
            Ok(rows) => {
                self.rows = rows;
                Ok(())
            }
            Err(e) => {
                // The transaction rolled back, so must the ids it added. Removing them is
                // exact: the intake never passes an id that was accepted before.
                for op in ops {
                    if let Some(id) = op.accepted_id() {
                        self.accepted.remove(id..=id);
                    }
                }
                Err(e)
            }
        }
    }

    fn write(&mut self, ops: &[Op]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let err = |e| sql_error(&path, e);
        let (stale, new_ids) = self.track_ranges(ops);
        let tx = self.conn.transaction().map_err(err)?;
        let rows = apply_queue_ops(&tx, ops, self.rows).map_err(err)?;
        write_ranges(&tx, &self.accepted, stale, new_ids).map_err(err)?;
        if ops.iter().any(|o| matches!(o, Op::Insert(_))) {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?1)",
                [to_sql(self.next_seq)],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(rows)
    }

    /// Adds the inserted ids to the accepted ranges; returns the starts of the stored ranges
    /// they touch (those rows are replaced by the merged ranges) and the new ids.
    fn track_ranges(&mut self, ops: &[Op]) -> (Vec<u64>, Vec<u64>) {
        let mut stale: Vec<u64> = Vec::new();
        let mut new_ids: Vec<u64> = Vec::new();
        for op in ops {
            if let Some(id) = op.accepted_id() {
                let neighbours = [id.checked_sub(1), id.checked_add(1), Some(id)];
                for n in neighbours.into_iter().flatten() {
                    if let Some(r) = self.accepted.get(&n) {
                        stale.push(*r.start());
                    }
                }
                self.accepted.insert(id..=id);
                new_ids.push(id);
            }
        }
        (stale, new_ids)
    }

    /// Gives freed pages back and truncates the WAL; cheap enough to call whenever idle.
    pub(crate) fn compact(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| sql_error(&path, e);
        // Each step of this pragma frees one page, so it must be stepped to the end.
        let mut vacuum = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(err)?;
        let mut rows = vacuum.query([]).map_err(err)?;
        while rows.next().map_err(err)?.is_some() {}
        drop(rows);
        drop(vacuum);
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(err)
    }

    /// Bytes the data dir's database files take (database + WAL).
    #[cfg(test)]
    pub(crate) fn disk_bytes(dir: &Path) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                std::fs::metadata(dir.join(format!("{DB_FILE}{suffix}")))
                    .ok()
                    .map(|m| m.len())
            })
            .sum()
    }

    /// Makes the store fail with "database or disk is full" once it holds `pages` pages: how
    /// the tests provoke a full disk without filling one.
    #[cfg(test)]
    pub(crate) fn limit_pages(&mut self, pages: u64) {
        self.conn
            .pragma_update(None, "max_page_count", to_sql(pages))
            .expect("max_page_count");
    }
}
/// Applies the queue rows of one batch; returns the row count after it.
fn apply_queue_ops(
    tx: &rusqlite::Transaction<'_>,
    ops: &[Op],
    mut rows: u64,
) -> rusqlite::Result<u64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO queue (seq, event_id, account_id, duration_us) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut start = tx.prepare_cached("UPDATE queue SET started = 1 WHERE seq = ?1")?;
    let mut finish = tx.prepare_cached("DELETE FROM queue WHERE seq = ?1")?;
    for op in ops {
        match *op {
            Op::Insert(p) => {
                insert.execute(params![
                    to_sql(p.seq),
                    to_sql(p.event.0),
                    to_sql(p.account.0),
                    p.duration.map(|d| to_sql(d.0))
                ])?;
                rows += 1;
            }
            Op::Start(seq) => {
                start.execute([to_sql(seq)])?;
            }
            Op::Finish(seq) => {
                rows = rows.saturating_sub(finish.execute([to_sql(seq)])? as u64);
            }
            Op::Accept(_) => {}
        }
    }
    Ok(rows)
}

/// Replaces the stored accepted ranges the new ids touched with their merged ranges.
fn write_ranges(
    tx: &rusqlite::Transaction<'_>,
    accepted: &RangeInclusiveSet<u64>,
    mut stale: Vec<u64>,
    new_ids: Vec<u64>,
) -> rusqlite::Result<()> {
    let mut drop_range = tx.prepare_cached("DELETE FROM accepted WHERE lo = ?1")?;
    stale.sort_unstable();
    stale.dedup();
    for lo in stale {
        drop_range.execute([to_sql(lo)])?;
    }
    let mut put_range =
        tx.prepare_cached("INSERT OR REPLACE INTO accepted (lo, hi) VALUES (?1, ?2)")?;
    let mut written: Vec<u64> = Vec::new();
    for id in new_ids {
        if let Some(r) = accepted.get(&id) {
            // Consecutive ids mostly share a range: the last one written is checked first.
            if written.last() != Some(r.start()) && !written.contains(r.start()) {
                put_range.execute([to_sql(*r.start()), to_sql(*r.end())])?;
                written.push(*r.start());
            }
        }
    }
    Ok(())
}

fn sql_error(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sql {
        path: path.to_path_buf(),
        source,
    }
}

mod check;
#[cfg(test)]
mod tests;
