//! What leaves the process: output files written atomically (a temporary file in the same
//! folder, renamed into place) and the `--format` of what is printed on stdout. It names no
//! report, so every layer (the report included) may write its files through it.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Fails early (before any work) when an output file cannot be written: its folder does not
/// exist or refuses new files, or the path is a folder.
pub(crate) fn check_output_paths<'a>(
    paths: impl IntoIterator<Item = Option<&'a Path>>,
) -> anyhow::Result<()> {
    for p in paths.into_iter().flatten() {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(crate::error::UsageError(format!(
                "{}: folder {} does not exist",
                p.display(),
                dir.unwrap_or(Path::new(".")).display()
            ))
            .into());
        }
        if p.is_dir() {
            return Err(crate::error::UsageError(format!(
                "{}: is a folder, not a file",
                p.display()
            ))
            .into());
        }
        if p.is_file() {
            // An existing file (a log appended to, or replaced): it must open for writing.
            // Opened without truncating, so nothing is changed.
            if let Err(e) = std::fs::OpenOptions::new().append(true).open(p) {
                return Err(crate::error::UsageError(format!(
                    "{}: cannot write: {e}",
                    p.display()
                ))
                .into());
            }
        } else {
            writable(dir.unwrap_or(Path::new(".")), p)?;
        }
    }
    Ok(())
}

/// Fails early when an output folder (created later if missing) cannot be: the nearest
/// folder that exists must take new entries, and nothing on the way may be a file.
pub(crate) fn check_output_dir(dir: &Path) -> anyhow::Result<()> {
    let usage = |why: String| crate::error::UsageError(format!("{}: {why}", dir.display()));
    let mut at = dir;
    loop {
        if at.exists() {
            if !at.is_dir() {
                return Err(usage(format!("{} is not a folder", at.display())).into());
            }
            return writable(at, dir);
        }
        match at.parent() {
            Some(up) if !up.as_os_str().is_empty() => at = up,
            _ => return writable(Path::new("."), dir),
        }
    }
}

/// Whether `dir` takes a new file, by creating and removing one (permissions alone do not
/// say: a read-only mount, an ACL or root's override); `what` names the output in the error.
fn writable(dir: &Path, what: &Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".eventbench-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        // A stale probe of an earlier process with our id: the folder takes files.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(crate::error::UsageError(format!(
            "{}: cannot write in folder {}: {e}",
            what.display(),
            dir.display()
        ))
        .into()),
    }
}

/// A file being written; it appears under its final name only on [`AtomicFile::commit`].
///
/// Dropping it without committing removes the temporary file, so a failed run never leaves a
/// half-written output behind.
pub(crate) struct AtomicFile {
    target: PathBuf,
    tmp: Option<PathBuf>,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub(crate) fn create(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .with_context(|| format!("{}: not a file name", target.display()))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", target.display()))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp: Some(tmp),
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer
            .as_mut()
            .expect("writer is present until commit")
    }

    /// Flushes, syncs and renames the file into place.
    pub(crate) fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("commit once");
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        let tmp = self.tmp.take().expect("commit once");
        std::fs::rename(&tmp, &self.target)
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            self.writer.take();
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Writes a whole file atomically from a closure.
pub(crate) fn write_atomic(
    target: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    fill(f.writer())?;
    f.commit()
}

/// Writes `value` atomically as pretty JSON ending in a newline: the shape of every `--json`
/// file.
pub(crate) fn write_json_atomic(target: &Path, value: &impl serde::Serialize) -> Result<()> {
    write_atomic(target, |f| {
        serde_json::to_writer_pretty(&mut *f, value)?;
        Ok(writeln!(f)?)
    })
}

/// How a report is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_without_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, |w| Ok(w.write_all(b"whole")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "whole");
    }
}
