//! Printing a finished report on stdout in the `--format` the user chose.

use super::{table, Report};
use crate::output::Format;
use anyhow::Result;
use std::io::Write;

/// Prints a report on stdout in the chosen format.
pub(crate) fn print_report(report: &Report, format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        // Through anstream: the table's colours reach a terminal only (see crate::color).
        Format::Table => {
            let mut styled = anstream::AutoStream::auto(out);
            styled.write_all(table::render(report).as_bytes())?;
            styled.flush()?;
            return Ok(());
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}
