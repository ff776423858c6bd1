//! The worker's processed log: appended row by row and written through to the OS per event,
//! so whatever a killed worker processed is on disk.

use crate::engine::clock::Clock;
use crate::engine::work::{Ctx, Handler, Job};
use crate::handler::AnyHandler;
use crate::live::Board;
use crate::sync::lock;
use crate::types::EventIdx;
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An append-only CSV log (see `report::log` for the columns).
pub struct LiveLog {
    path: PathBuf,
    file: Mutex<File>,
    /// The first write error; the worker reports it at the end instead of stopping mid-run.
    failed: Mutex<Option<std::io::Error>>,
}

impl LiveLog {
    /// Opens `path` for appending; writes the header only when the file is new or empty.
    pub fn open(path: &Path) -> Result<Self> {
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
    pub fn append(&self, fields: [u64; 5]) {
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
    pub fn check(&self) -> Result<()> {
        match lock(&self.failed).take() {
            Some(e) => Err(e).with_context(|| format!("cannot write log {}", self.path.display())),
            None => Ok(()),
        }
    }
}

/// Asked when an event's turn comes: true to skip it (its delivery was given up).
pub type Skip = Arc<dyn Fn(EventIdx) -> bool + Send + Sync>;

/// The worker's handler (the benchmark's sleep, or `--handler`), plus a log row written after
/// it and before the engine acks.
#[derive(Clone)]
pub struct LoggedSleep {
    pub inner: AnyHandler,
    pub log: Option<Arc<LiveLog>>,
    /// The `worker` column: this process's id, so logs of several workers can be told apart.
    pub worker: u64,
    /// Set by the consumer when it reconnects after losses; skipped events are neither slept
    /// nor logged (and are left out of the report).
    pub skip: Option<Skip>,
    /// A live dashboard's board, told when each event starts (the consumer's observer tells
    /// it when the event ends).
    pub board: Option<Arc<Board>>,
}

impl Handler for LoggedSleep {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        let log = self.log.clone();
        let worker = self.worker;
        let clock = ctx.clock.clone();
        // Decided at the call, not at the first poll: the call is the event's start.
        let skipped = self.skip.as_ref().is_some_and(|skip| skip(job.index));
        let start = clock.now();
        if let (Some(board), false) = (&self.board, skipped) {
            board.start(job.account.0, start.0, job.duration.0);
        }
        let call = (!skipped).then(|| self.inner.handle(job, ctx));
        let guarded = self.inner.guarded().cloned();
        async move {
            let Some(call) = call else {
                return;
            };
            call.await;
            // An event passed over without a try (its account was stopped) was not processed.
            let passed_over = guarded.is_some_and(|g| g.was_passed_over(job.index));
            if let (Some(log), false) = (log, passed_over) {
                let end = clock.now();
                log.append([job.account.0, job.event.0, worker, start.0, end.0]);
            }
        }
    }
}
