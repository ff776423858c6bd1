//! The kill-proof processed log of `serve` and `worker`: appended row by row and written
//! through to the OS per event, so whatever a killed process handled is on disk. It sits
//! below both so neither names the other.

use crate::sync::lock;
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An append-only CSV log (see [`crate::report::processed_log`] for the columns).
pub(crate) struct LiveLog {
    path: PathBuf,
    file: Mutex<File>,
    /// The first write error; the run reports it at the end instead of stopping mid-run.
    failed: Mutex<Option<std::io::Error>>,
}

impl LiveLog {
    /// Opens `path` for appending; writes the header only when the file is new or empty.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open log {}", path.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            writeln!(file, "{}", crate::report::processed_log::HEADER)
                .with_context(|| format!("cannot write log {}", path.display()))?;
        }
        Ok(LiveLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failed: Mutex::new(None),
        })
    }

    /// One row, in a single write so concurrent rows never interleave.
    pub(crate) fn append(&self, fields: [u64; 5]) {
        let mut row = String::with_capacity(64);
        let mut buf = itoa::Buffer::new();
        for (i, v) in fields.into_iter().enumerate() {
            if i > 0 {
                row.push(',');
            }
            row.push_str(buf.format(v));
        }
        row.push('\n');
        let result = lock(&self.file).write_all(row.as_bytes());
        if let Err(e) = result {
            lock(&self.failed).get_or_insert(e);
        }
    }

    /// The first write error, if any.
    pub(crate) fn check(&self) -> Result<()> {
        match lock(&self.failed).take() {
            Some(e) => Err(e).with_context(|| format!("cannot write log {}", self.path.display())),
            None => Ok(()),
        }
    }
}
