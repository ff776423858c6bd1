//! Exports of a sweep: one [`Exporter`] per file format, all rewritten atomically after every
//! run so that a sweep that fails late still leaves complete files for the runs before.

pub(crate) mod csv;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod palette;
pub(crate) mod svg;

use crate::report::sweep::CompareDoc;
use anyhow::Result;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One output format of `compare`.
pub(crate) trait Exporter {
    /// The file's name inside the output folder.
    fn file_name(&self) -> &'static str;
    /// Writes the whole document in this format.
    fn write(&self, doc: &CompareDoc, out: &mut dyn Write) -> Result<()>;
}

/// Every format `compare` writes.
pub(crate) fn all() -> [&'static dyn Exporter; 5] {
    [
        &json::Json,
        &csv::Csv,
        &markdown::Markdown,
        &svg::Svg,
        &html::Html,
    ]
}

/// Writes every format into `dir` (each file atomically) and returns the paths written.
pub(crate) fn write_all(dir: &Path, doc: &CompareDoc) -> Result<Vec<PathBuf>> {
    all()
        .into_iter()
        .map(|e| {
            let path = dir.join(e.file_name());
            crate::output::write_atomic(&path, |f| e.write(doc, f))?;
            Ok(path)
        })
        .collect()
}

/// Renders one format into a string (tests, and callers that print instead of writing).
#[cfg(test)]
pub(crate) fn render(e: &dyn Exporter, doc: &CompareDoc) -> Result<String> {
    let mut buf = Vec::new();
    e.write(doc, &mut buf)?;
    Ok(String::from_utf8(buf)?)
}
