//! The dead-letter file: events that were given up or left unprocessed, as an events CSV with an
//! `error` column, so `run --input FILE` replays them (the loader ignores extra columns).
//!
//! A batch run collects the rows and writes the file once, atomically, in arrival order. A live
//! run (`serve`, `worker`) appends and syncs each row before the event counts as finished,
//! because finishing is what acknowledges it.

use crate::sync::lock;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub(crate) const HEADER: &str = "event_id,account_id,duration_us,error";

/// One dead-lettered event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub index: EventIdx,
    pub event: EventId,
    pub account: AccountId,
    pub duration: Micros,
    pub error: String,
}

/// Rows kept in memory (batch runs) or appended to a file (`serve`, `worker`).
enum Destination {
    Collect(Vec<Row>),
    Append { path: PathBuf, file: File },
}

/// Where dead letters go.
pub struct DeadLetters {
    dest: Mutex<Destination>,
    count: std::sync::atomic::AtomicU64,
}

impl DeadLetters {
    /// Collects rows for [`DeadLetters::take`] (batch runs).
    pub fn collect() -> Self {
        DeadLetters {
            dest: Mutex::new(Destination::Collect(Vec::new())),
            count: Default::default(),
        }
    }

    /// Appends each row to `path` and syncs it before returning (live runs); writes the header
    /// when the file is new or empty.
    pub fn append(path: &Path) -> Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open --dead-letter {}", path.display()))?;
        if file.metadata()?.len() == 0 {
            writeln!(file, "{HEADER}")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(DeadLetters {
            dest: Mutex::new(Destination::Append {
                path: path.to_path_buf(),
                file,
            }),
            count: Default::default(),
        })
    }

    pub fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps a row; with an append destination, it is on disk when this returns.
    pub fn push(&self, row: Row) -> Result<()> {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut dest = lock(&self.dest);
        match &mut *dest {
            Destination::Collect(rows) => rows.push(row),
            Destination::Append { path, file } => {
                let mut line = Vec::new();
                write_rows(&mut line, std::slice::from_ref(&row), false)?;
                file.write_all(&line)
                    .and_then(|()| file.sync_data())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// The collected rows in arrival order (empty for an append destination).
    pub fn take(&self) -> Vec<Row> {
        let mut dest = lock(&self.dest);
        match &mut *dest {
            Destination::Collect(rows) => {
                let mut rows = std::mem::take(rows);
                rows.sort_by_key(|r| r.index);
                rows
            }
            Destination::Append { .. } => Vec::new(),
        }
    }
}

/// Writes rows as CSV (quoting errors that contain commas, quotes or newlines).
pub(crate) fn write_rows<W: Write>(out: W, rows: &[Row], header: bool) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    if header {
        w.write_record(HEADER.split(','))?;
    }
    for r in rows {
        w.write_record([
            r.event.0.to_string(),
            r.account.0.to_string(),
            r.duration.0.to_string(),
            r.error.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Writes a whole dead-letter file atomically.
pub(crate) fn write_file(path: &Path, rows: &[Row]) -> Result<()> {
    crate::output::write_atomic(path, |f| write_rows(f, rows, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u32, error: &str) -> Row {
        Row {
            index: EventIdx(i),
            event: EventId(u64::from(i) + 10),
            account: AccountId(3),
            duration: Micros(1000),
            error: error.into(),
        }
    }

    #[test]
    fn rows_load_back_as_a_workload_with_their_durations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.csv");
        let dl = DeadLetters::collect();
        dl.push(row(2, "exit status 1, then \"killed\"\nline two"))
            .unwrap();
        dl.push(row(0, "HTTP 500")).unwrap();
        write_file(&path, &dl.take()).unwrap();
        let w = crate::workload::csv::load(&path, Micros(1)).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.event_id(EventIdx(0)), EventId(10));
        assert_eq!(w.event_id(EventIdx(1)), EventId(12));
        assert_eq!(w.duration(EventIdx(1)), Micros(1000));
    }

    #[test]
    fn appended_rows_are_on_disk_with_one_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.csv");
        DeadLetters::append(&path)
            .unwrap()
            .push(row(0, "a"))
            .unwrap();
        DeadLetters::append(&path)
            .unwrap()
            .push(row(1, "b"))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{HEADER}\n10,3,1000,a\n11,3,1000,b\n"));
    }
}
