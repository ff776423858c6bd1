//! `compare.json`: the sweep document itself, the format `--baseline` reads back.

use super::Exporter;
use crate::report::sweep::CompareDoc;
use std::io::Write;

/// Pretty-printed [`CompareDoc`].
pub(crate) struct Json;

impl Exporter for Json {
    fn file_name(&self) -> &'static str {
        "compare.json"
    }

    fn write(&self, doc: &CompareDoc, out: &mut dyn Write) -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut *out, doc)?;
        writeln!(out)?;
        Ok(())
    }
}
