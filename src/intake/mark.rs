//! The high-water mark beside the durable queue (`queue.mark`): every event id the store has
//! committed and the last sequence number it gave, rewritten atomically (and synced) at most a
//! second after a commit and at shutdown. SQLite trusts its files; this file is how an open
//! notices that the database lost what it once held (a truncated or deleted WAL, a truncated
//! database) instead of resuming less without a word.
//!
//! It is written on its own thread from what the committer hands it after each commit, so the
//! commit path only pays for a channel send, and the mark never claims more than is on disk.
//! Ids are kept as ranges, as in the store: ids that arrive in runs cost one line.

use rangemap::RangeInclusiveSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The mark file inside the data directory.
pub(crate) const MARK_FILE: &str = "queue.mark";

/// The first line of a mark file (and its format version).
const HEADER: &str = "eventbench-queue-mark 1";

/// How stale the mark may get while events are accepted.
const EVERY: Duration = Duration::from_secs(1);

/// What the store had committed when the mark was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mark {
    pub accepted: RangeInclusiveSet<u64>,
    /// The last sequence number given to an event; `None` before the first.
    pub last_seq: Option<u64>,
}

impl Mark {
    /// How many event ids it holds.
    pub(crate) fn count(&self) -> u64 {
        count(&self.accepted)
    }

    /// The mark file of `dir`; `Ok(None)` when there is none yet.
    pub(crate) fn read(dir: &Path) -> Result<Option<Mark>, String> {
        let path = dir.join(MARK_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|(line, what)| format!("{}:{line}: {what}", path.display()))
    }

    fn parse(text: &str) -> Result<Mark, (usize, String)> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let mut next = |want: &str| {
            let (n, l) = lines
                .next()
                .ok_or((0, format!("ends before its {want} line")))?;
            Ok::<_, (usize, String)>((n, l))
        };
        let (n, header) = next("header")?;
        if header != HEADER {
            return Err((n, format!("not an eventbench mark (expected {HEADER:?})")));
        }
        let (n, l) = next("accepted")?;
        let claimed = field(n, l, "accepted")?;
        let (n, l) = next("last_seq")?;
        let last_seq = match l.strip_prefix("last_seq ") {
            Some("none") => None,
            _ => Some(field(n, l, "last_seq")?),
        };
        let mut accepted = RangeInclusiveSet::new();
        for (n, l) in lines {
            let bad = || (n, format!("expected 'LOW HIGH', found {l:?}"));
            let (lo, hi) = l.split_once(' ').ok_or_else(bad)?;
            let (lo, hi): (u64, u64) = (
                lo.parse().map_err(|_| bad())?,
                hi.parse().map_err(|_| bad())?,
            );
            if lo > hi {
                return Err(bad());
            }
            accepted.insert(lo..=hi);
        }
        let mark = Mark { accepted, last_seq };
        if mark.count() != claimed {
            return Err((2, format!("says {claimed} ids but lists {}", mark.count())));
        }
        Ok(mark)
    }

    fn render(&self) -> String {
        let mut s = format!("{HEADER}\naccepted {}\n", self.count());
        match self.last_seq {
            Some(q) => {
                let _ = writeln!(s, "last_seq {q}");
            }
            None => s.push_str("last_seq none\n"),
        }
        for r in self.accepted.iter() {
            let _ = writeln!(s, "{} {}", r.start(), r.end());
        }
        s
    }

    /// Replaces the mark of `dir` atomically: a synced temporary file renamed into place, and
    /// the directory synced so the rename itself survives a crash.
    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!(".{MARK_FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(self.render().as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(MARK_FILE))?;
        std::fs::File::open(dir)?.sync_all()
    }
}

/// How many ids a set of ranges holds.
pub(crate) fn count(ids: &RangeInclusiveSet<u64>) -> u64 {
    ids.iter()
        .map(|r| (r.end() - r.start()).saturating_add(1))
        .fold(0, u64::saturating_add)
}

fn field(n: usize, line: &str, name: &str) -> Result<u64, (usize, String)> {
    line.strip_prefix(name)
        .and_then(|v| v.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .ok_or((n, format!("expected '{name} N', found {line:?}")))
}

/// The ids and the last sequence number of one committed batch.
type Committed = (Vec<u64>, u64);

/// Feeds the mark thread; dropping every handle makes it write a last time and stop.
#[derive(Clone)]
pub(crate) struct MarkFeed(mpsc::Sender<Committed>);

impl MarkFeed {
    /// Records a committed batch: call only after its transaction is on disk.
    pub(crate) fn committed(&self, ids: Vec<u64>, last_seq: u64) {
        let _ = self.0.send((ids, last_seq));
    }
}

/// The thread that keeps the mark file; [`MarkThread::join`] waits for its last write.
pub(crate) struct MarkThread(JoinHandle<()>);

impl MarkThread {
    /// Writes `mark` now (proving the file writable before anything is accepted), then keeps
    /// it up to date from what the returned feed reports.
    pub(crate) fn start(dir: &Path, mark: Mark) -> std::io::Result<(MarkFeed, MarkThread)> {
        mark.write(dir)?;
        let (tx, rx) = mpsc::channel();
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("eventbench-mark".into())
            .spawn(move || keep(&dir, mark, &rx))?;
        Ok((MarkFeed(tx), MarkThread(thread)))
    }

    pub(crate) fn join(self) {
        if let Err(panic) = self.0.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

fn keep(dir: &Path, mut mark: Mark, rx: &mpsc::Receiver<Committed>) {
    let mut written = Instant::now();
    let mut dirty = false;
    let mut warned = false;
    loop {
        let wait = if dirty {
            EVERY.saturating_sub(written.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        let open = match rx.recv_timeout(wait) {
            Ok((ids, last)) => {
                for id in ids {
                    mark.accepted.insert(id..=id);
                }
                mark.last_seq = Some(mark.last_seq.map_or(last, |q| q.max(last)));
                dirty = true;
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
            Err(mpsc::RecvTimeoutError::Disconnected) => false,
        };
        if dirty && (!open || written.elapsed() >= EVERY) {
            // A mark that cannot be written only weakens the check at the next start: the
            // events themselves are on disk, so serving goes on, with one warning.
            if let Err(e) = mark.write(dir) {
                if !warned {
                    warned = true;
                    eprintln!(
                        "eventbench: cannot write the high-water mark {}: {e}",
                        dir.join(MARK_FILE).display()
                    );
                }
            }
            written = Instant::now();
            dirty = false;
        }
        if !open {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Mark::read(dir.path()).unwrap(), None);
        let mut m = Mark::default();
        m.write(dir.path()).unwrap();
        assert_eq!(Mark::read(dir.path()).unwrap(), Some(m.clone()));
        for id in [1, 2, 3, 7, u64::MAX] {
            m.accepted.insert(id..=id);
        }
        m.last_seq = Some(4);
        m.write(dir.path()).unwrap();
        let back = Mark::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, m);
        assert_eq!(back.count(), 5);
    }

    #[test]
    fn a_damaged_mark_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(MARK_FILE);
        for (text, line) in [
            ("nonsense\n", ":1:"),
            (
                &format!("{HEADER}\naccepted 2\nlast_seq 1\n5 5\n") as &str,
                ":2:",
            ),
            (&format!("{HEADER}\naccepted 1\nlast_seq 0\n5 x\n"), ":4:"),
            (&format!("{HEADER}\naccepted 1\n"), "ends before"),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = Mark::read(dir.path()).unwrap_err();
            assert!(e.contains(MARK_FILE) && e.contains(line), "{e}");
        }
    }

    #[test]
    fn the_thread_writes_what_it_was_fed_at_the_latest_when_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let (feed, thread) = MarkThread::start(dir.path(), Mark::default()).unwrap();
        feed.committed(vec![10, 11, 12], 2);
        feed.committed(vec![40], 3);
        drop(feed);
        thread.join();
        let m = Mark::read(dir.path()).unwrap().unwrap();
        assert_eq!((m.count(), m.last_seq), (4, Some(3)));
    }
}
