//! `eventbench report`: show a saved report or compare document again, in the terminal or as
//! a self-contained HTML page.

use crate::cli::GlobalArgs;
use crate::error::InputError;
use crate::report::sweep::CompareDoc;
use crate::report::Report;
use crate::workload::line_limit::{self, MaxLineLength};
use anyhow::Result;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags of `report`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench report report.json                        # the table again, from run --json
  eventbench report report.json --html report.html     # one page with charts, opens offline
  eventbench report results/2026-11-28-compare-120000/compare.json --html sweep.html
  eventbench report verify.json --html verify.html     # a verify report renders the same way

Reads any eventbench JSON: a report (run, serve, verify --json) or a compare document.
Exit codes: 0 ok, 2 unreadable or not an eventbench document.")]
pub struct Args {
    /// The JSON file: a report or a compare document
    pub file: PathBuf,
    /// Write a self-contained HTML page (charts embedded, no network needed) to this file
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub reading: crate::cli::InputArgs,
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    super::check_output_paths([args.html.as_deref()])?;
    let doc = load(&args.file, args.reading.max_line_length)?;
    if let Some(out) = &args.html {
        let page = crate::export::html::document_page(&doc);
        crate::output::write_atomic(out, |f| Ok(f.write_all(page.as_bytes())?))?;
        if !global.quiet {
            eprintln!("wrote {}", out.display());
        }
        return Ok(());
    }
    let text = render_text(&doc);
    let mut out = anstream::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Reads and checks the document: JSON, and either `{"runs": [report, …]}` or one report. A
/// line longer than `max_line` stops the read (what we write is pretty-printed: short lines).
fn load(path: &Path, max_line: MaxLineLength) -> Result<Value, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let bytes = line_limit::read_all(file, path, max_line, Some(size))?;
    let text = String::from_utf8(bytes).map_err(|e| InputError::File {
        path: path.to_path_buf(),
        reason: format!("not UTF-8 text: {}", e.utf8_error()),
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| InputError::Line {
        path: path.to_path_buf(),
        line: e.line() as u64,
        reason: format!("not valid JSON: {e}"),
    })?;
    let bad = |reason: String| InputError::File {
        path: path.to_path_buf(),
        reason,
    };
    let is_report =
        |v: &Value| v.get("wall_time_s").is_some_and(Value::is_number) && v.get("events").is_some();
    match doc.get("runs") {
        Some(Value::Array(runs)) => {
            if let Some(i) = runs.iter().position(|r| !is_report(r)) {
                return Err(bad(format!(
                    "runs[{i}] is not a report (it needs at least events and wall_time_s)"
                )));
            }
        }
        Some(_) => return Err(bad("\"runs\" is not a list of reports".into())),
        None if is_report(&doc) => {}
        None => {
            return Err(bad(
                "not an eventbench report or compare document (expected an object with \
                 events and wall_time_s, or with runs)"
                    .into(),
            ))
        }
    }
    Ok(doc)
}

/// The terminal form: the usual tables when this version knows every field, else each field
/// on a line (a report of a newer version or another command still shows).
fn render_text(doc: &Value) -> String {
    if doc.get("runs").is_some() {
        if let Ok(c) = serde_json::from_value::<CompareDoc>(doc.clone()) {
            let mut o = crate::report::summary::render_table(&c.runs);
            let ranking = crate::report::ranking::Ranking::of(&c.runs);
            if let Some(line) = ranking.conclusion() {
                o.push_str(&format!("conclusion: {line}\n"));
            }
            return o;
        }
    } else if let Ok(r) = serde_json::from_value::<Report>(doc.clone()) {
        return crate::report::table::render(&r);
    }
    let mut o = String::new();
    let docs: Vec<&Value> = match doc.get("runs").and_then(Value::as_array) {
        Some(runs) => runs.iter().collect(),
        None => vec![doc],
    };
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        if let Some(fields) = d.as_object() {
            for (k, v) in fields {
                o.push_str(&format!("{k:<22} {v}\n"));
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn broken_json_names_the_line() {
        let (_d, p) = write("{\n \"events\": 3,\n oops }");
        let e = load(&p, MaxLineLength::DEFAULT).unwrap_err().to_string();
        assert!(e.contains("r.json:3: not valid JSON"), "{e}");
    }

    #[test]
    fn other_json_is_refused() {
        let (_d, p) = write("{\"hello\": 1}");
        let e = load(&p, MaxLineLength::DEFAULT).unwrap_err().to_string();
        assert!(e.contains("not an eventbench report"), "{e}");
        let (_d, p) = write("{\"runs\": [{\"events\": 1, \"wall_time_s\": 1}, {}]}");
        assert!(load(&p, MaxLineLength::DEFAULT)
            .unwrap_err()
            .to_string()
            .contains("runs[1]"));
    }

    #[test]
    fn unknown_reports_are_listed_field_by_field() {
        let doc = json!({"strategy": "external", "events": 4, "wall_time_s": 1.5, "lost": 1});
        let text = render_text(&doc);
        assert!(text.contains("lost"), "{text}");
        assert!(text.contains("external"));
    }
}
