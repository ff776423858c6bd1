//! The high-water mark beside the durable queue (`queue.mark`): every event id the store has
//! committed and the last sequence number it gave, brought up to date (and synced) at most a
//! second after a commit and at shutdown. SQLite trusts its files; this file is how an open
//! notices that the database lost what it once held (a truncated or deleted WAL, a truncated
//! database) instead of resuming less without a word.
//!
//! It is written on its own thread from what the committer hands it after each commit, so the
//! commit path only pays for a channel send, and the mark never claims more than is on disk.
//! Ids are kept as ranges, as in the store: ids that arrive in runs cost one line. Each update
//! appends the ranges accepted since the last one and a checkpoint line (`= COUNT LAST_SEQ`),
//! so a second's update costs what that second accepted, not everything ever accepted; lines
//! after the last checkpoint are an update a crash cut short and are ignored. When the file
//! has grown to twice its compacted size it is rewritten whole, atomically (a synced
//! temporary file renamed into place).

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
const HEADER: &str = "eventbench-queue-mark 2";

/// How stale the mark may get while events are accepted.
const EVERY: Duration = Duration::from_secs(1);

/// Below this size the file is never compacted: appends are cheaper than rewrites.
const COMPACT_MIN_BYTES: u64 = 1 << 20;

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

    /// Reads up to the last checkpoint line, checking each checkpoint's count. What follows
    /// it (an update a crash cut short: lines without their checkpoint, a line without its
    /// line end) is not part of the mark.
    fn parse(text: &str) -> Result<Mark, (usize, String)> {
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let lines: Vec<&str> = complete.lines().collect();
        if lines.first() != Some(&HEADER) {
            return Err((1, format!("not an eventbench mark (expected {HEADER:?})")));
        }
        let last = lines
            .iter()
            .rposition(|l| checkpoint_of(l).is_some())
            .ok_or((
                1,
                "no checkpoint line ('= COUNT LAST_SEQ') in it".to_string(),
            ))?;
        let mut mark = Mark::default();
        for (i, l) in lines.iter().enumerate().take(last + 1).skip(1) {
            let n = i + 1;
            if l.starts_with("= ") {
                let (claimed, seq) = checkpoint_of(l)
                    .ok_or_else(|| (n, format!("expected '= COUNT LAST_SEQ', found {l:?}")))?;
                mark.last_seq = seq;
                if mark.count() != claimed {
                    return Err((
                        n,
                        format!("says {claimed} ids, the lines before list {}", mark.count()),
                    ));
                }
                continue;
            }
            let bad = || (n, format!("expected 'LOW HIGH', found {l:?}"));
            let (lo, hi) = l.split_once(' ').ok_or_else(bad)?;
            let (lo, hi): (u64, u64) = (
                lo.parse().map_err(|_| bad())?,
                hi.parse().map_err(|_| bad())?,
            );
            if lo > hi {
                return Err(bad());
            }
            mark.accepted.insert(lo..=hi);
        }
        Ok(mark)
    }

    fn render(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for r in self.accepted.iter() {
            let _ = writeln!(s, "{} {}", r.start(), r.end());
        }
        checkpoint(&mut s, self);
        s
    }

    /// Replaces the mark of `dir` atomically: a synced temporary file renamed into place, and
    /// the directory synced so the rename itself survives a crash. Returns its size.
    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<u64> {
        let tmp = dir.join(format!(".{MARK_FILE}.tmp"));
        let text = self.render();
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(MARK_FILE))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(text.len() as u64)
    }
}

/// The count and last sequence number of a checkpoint line `= COUNT LAST_SEQ`.
fn checkpoint_of(line: &str) -> Option<(u64, Option<u64>)> {
    let (claimed, seq) = line.strip_prefix("= ")?.split_once(' ')?;
    let seq = match seq {
        "none" => None,
        q => Some(q.parse().ok()?),
    };
    Some((claimed.parse().ok()?, seq))
}

/// Appends the checkpoint line of `mark`.
fn checkpoint(s: &mut String, mark: &Mark) {
    let seq = mark.last_seq.map_or("none".into(), |q| q.to_string());
    let _ = writeln!(s, "= {} {seq}", mark.count());
}

/// Appends to the mark file of `dir` the ids accepted since its last checkpoint (`fresh`,
/// already in `mark`) and a checkpoint of `mark`, and syncs it; the bytes appended.
fn append(dir: &Path, mark: &Mark, fresh: &mut Vec<u64>) -> std::io::Result<u64> {
    fresh.sort_unstable();
    let mut s = String::new();
    let mut run: Option<(u64, u64)> = None;
    for &id in fresh.iter() {
        run = match run {
            Some((lo, hi)) if hi.checked_add(1) == Some(id) || hi == id => Some((lo, id)),
            Some((lo, hi)) => {
                let _ = writeln!(s, "{lo} {hi}");
                Some((id, id))
            }
            None => Some((id, id)),
        };
    }
    if let Some((lo, hi)) = run {
        let _ = writeln!(s, "{lo} {hi}");
    }
    checkpoint(&mut s, mark);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(MARK_FILE))?;
    f.write_all(s.as_bytes())?;
    f.sync_data()?;
    fresh.clear();
    Ok(s.len() as u64)
}

/// How many ids a set of ranges holds.
pub(crate) fn count(ids: &RangeInclusiveSet<u64>) -> u64 {
    ids.iter()
        .map(|r| (r.end() - r.start()).saturating_add(1))
        .fold(0, u64::saturating_add)
}

/// The ids and the last sequence number of one committed batch.
/// Committed ids, and the last sequence number given (`None`: ids accepted without a queue
/// row, which take none).
type Committed = (Vec<u64>, Option<u64>);

/// Feeds the mark thread; dropping every handle makes it write a last time and stop.
#[derive(Clone)]
pub(crate) struct MarkFeed(mpsc::Sender<Committed>);

impl MarkFeed {
    /// Records a committed batch: call only after its transaction is on disk.
    pub(crate) fn committed(&self, ids: Vec<u64>, last_seq: u64) {
        let _ = self.0.send((ids, Some(last_seq)));
    }

    /// Records ids committed as accepted without a queue row (`serve --broker`): call only
    /// after their transaction is on disk.
    pub(crate) fn accepted(&self, ids: Vec<u64>) {
        let _ = self.0.send((ids, None));
    }
}

/// The thread that keeps the mark file; [`MarkThread::join`] waits for its last write.
pub(crate) struct MarkThread(JoinHandle<()>);

impl MarkThread {
    /// Writes `mark` now (proving the file writable before anything is accepted), then keeps
    /// it up to date from what the returned feed reports.
    pub(crate) fn start(dir: &Path, mark: Mark) -> std::io::Result<(MarkFeed, MarkThread)> {
        let n = mark.write(dir)?;
        let sizes = Sizes {
            now: n,
            compacted: n,
        };
        let (tx, rx) = mpsc::channel();
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("eventbench-mark".into())
            .spawn(move || keep(&dir, mark, sizes, &rx))?;
        Ok((MarkFeed(tx), MarkThread(thread)))
    }

    pub(crate) fn join(self) {
        if let Err(panic) = self.0.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Sizes of the mark file: now, and right after its last whole rewrite.
#[derive(Clone, Copy)]
struct Sizes {
    now: u64,
    compacted: u64,
}

impl Sizes {
    fn compact_due(self) -> bool {
        self.now > COMPACT_MIN_BYTES.max(2 * self.compacted)
    }
}

fn keep(dir: &Path, mut mark: Mark, mut sizes: Sizes, rx: &mpsc::Receiver<Committed>) {
    let mut written = Instant::now();
    let mut fresh: Vec<u64> = Vec::new();
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
                for &id in &ids {
                    mark.accepted.insert(id..=id);
                }
                fresh.extend(ids);
                if let Some(last) = last {
                    mark.last_seq = Some(mark.last_seq.map_or(last, |q| q.max(last)));
                }
                dirty = true;
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
            Err(mpsc::RecvTimeoutError::Disconnected) => false,
        };
        if dirty && (!open || written.elapsed() >= EVERY) {
            let update = if sizes.compact_due() {
                fresh.clear();
                mark.write(dir).map(|n| {
                    sizes = Sizes {
                        now: n,
                        compacted: n,
                    }
                })
            } else {
                append(dir, &mark, &mut fresh).map(|n| sizes.now += n)
            };
            // A mark that cannot be written only weakens the check at the next start: the
            // events themselves are on disk, so serving goes on, with one warning.
            if let Err(e) = update {
                if !warned {
                    warned = true;
                    eprintln!(
                        "eventbench: cannot write the high-water mark {}: {e}",
                        dir.join(MARK_FILE).display()
                    );
                }
                // The next update rewrites the whole file rather than append to a broken one.
                sizes.compacted = 0;
                sizes.now = u64::MAX / 4;
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
    fn a_mark_reads_back_as_written_and_appended() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Mark::read(dir.path()).unwrap(), None);
        let mut m = Mark::default();
        m.write(dir.path()).unwrap();
        assert_eq!(Mark::read(dir.path()).unwrap(), Some(m.clone()));
        let mut fresh = vec![7, 2, 3, 1, u64::MAX];
        for &id in &fresh {
            m.accepted.insert(id..=id);
        }
        m.last_seq = Some(4);
        append(dir.path(), &m, &mut fresh).unwrap();
        assert!(fresh.is_empty());
        let text = std::fs::read_to_string(dir.path().join(MARK_FILE)).unwrap();
        assert!(text.contains("\n1 3\n7 7\n"), "{text}");
        let back = Mark::read(dir.path()).unwrap().unwrap();
        assert_eq!((back.count(), back.last_seq), (5, Some(4)));
        assert_eq!(back, m);
        m.write(dir.path()).unwrap();
        assert_eq!(Mark::read(dir.path()).unwrap(), Some(m));
    }

    #[test]
    fn an_update_cut_short_by_a_crash_leaves_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(MARK_FILE);
        for torn in ["6 9\n= 9", "6 9\n= 9 ", "6 9\n", "6 9", "6 x\n"] {
            std::fs::write(&file, format!("{HEADER}\n1 5\n= 5 4\n{torn}")).unwrap();
            let m = Mark::read(dir.path()).unwrap().unwrap();
            assert_eq!((m.count(), m.last_seq), (5, Some(4)), "{torn:?}");
        }
    }

    #[test]
    fn a_damaged_mark_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(MARK_FILE);
        for (text, line) in [
            ("nonsense\n".to_string(), ":1:"),
            (format!("{HEADER}\n5 5\n= 2 1\n"), ":3:"),
            (format!("{HEADER}\n5 x\n= 1 0\n"), ":2:"),
            (format!("{HEADER}\n5 5\n= 1 x\n= 1 0\n"), ":3:"),
            (format!("{HEADER}\n5 5\n"), "no checkpoint"),
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

    /// `serve --broker` records ids without a queue row: they take no sequence number, so a
    /// data dir that never had one must not be marked as having given sequence 0 (its next
    /// open would find the database short of the mark).
    #[test]
    fn ids_accepted_without_a_queue_row_leave_the_last_sequence_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (feed, thread) = MarkThread::start(dir.path(), Mark::default()).unwrap();
        feed.accepted(vec![5, 6]);
        drop(feed);
        thread.join();
        let m = Mark::read(dir.path()).unwrap().unwrap();
        assert_eq!((m.count(), m.last_seq), (2, None));
    }

    #[test]
    fn the_file_is_rewritten_once_appends_doubled_it() {
        let small = Sizes {
            now: 900,
            compacted: 500,
        };
        assert!(!small.compact_due(), "small files are only appended to");
        let grown = Sizes {
            now: 5 << 20,
            compacted: 2 << 20,
        };
        assert!(grown.compact_due());
        let young = Sizes {
            now: 3 << 20,
            compacted: 2 << 20,
        };
        assert!(!young.compact_due());
    }
}
