//! The sweep document (`compare.json`): every run of one `compare`, readable back as a
//! baseline, and the short name of a run used in messages.

use super::{Backend, Report};
use crate::build_info::Build;
use crate::error::UsageError;
use crate::workload::line_limit::MaxLineLength;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `compare.json` document: every run of one sweep. An interrupted run's `efficiency` is
/// written as `null`: it stopped early, so it has none to compare (docs/REPORT.md).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(crate) struct CompareDoc {
    pub eventbench_version: String,
    /// The build that ran the sweep (absent in documents of older versions, such as a
    /// baseline saved before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    pub runs: Vec<Report>,
}

impl Serialize for CompareDoc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Doc<'a> {
            eventbench_version: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            build: Option<&'a Build>,
            runs: Vec<serde_json::Value>,
        }
        let mut runs = Vec::with_capacity(self.runs.len());
        for r in &self.runs {
            let mut v = serde_json::to_value(r).map_err(serde::ser::Error::custom)?;
            if r.interrupted {
                v["efficiency"] = serde_json::Value::Null;
            }
            runs.push(v);
        }
        Doc {
            eventbench_version: &self.eventbench_version,
            build: self.build.as_ref(),
            runs,
        }
        .serialize(s)
    }
}

impl CompareDoc {
    pub(crate) fn new(runs: Vec<Report>) -> Self {
        CompareDoc {
            eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
            build: Some(Build::current()),
            runs,
        }
    }

    /// Reads a baseline written by `compare`; anything else is a usage error (exit 2), so a
    /// wrong file fails before a long sweep rather than after it. A line longer than
    /// `max_line` stops the read.
    pub(crate) fn load_baseline(path: &Path, max_line: MaxLineLength) -> Result<Self, UsageError> {
        let bad = |why: String| UsageError(format!("baseline {}: {why}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let bytes = crate::workload::line_limit::read_all(file, path, max_line, None)
            .map_err(|e| UsageError(format!("baseline {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let looks_right = value.get("eventbench_version").is_some()
            && value.get("runs").is_some_and(|r| r.is_array());
        if !looks_right {
            return Err(bad(
                "not a compare output (expected {\"eventbench_version\": …, \"runs\": [...]}, \
                 as written to compare.json)"
                    .into(),
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            bad(format!(
                "not a compare output this version can read (another schema): {e}"
            ))
        })
    }
}

/// A short name for a run in messages: `optimal, 100 workers, virtual clock`, plus the
/// backend for broker runs (`…, real clock, broker-original`).
pub(crate) fn run_label(r: &Report) -> String {
    let backend = match r.backend {
        Backend::Memory => String::new(),
        b => format!(", {}", b.name()),
    };
    format!(
        "{}, {} workers, {} clock{backend}",
        r.strategy, r.workers_requested, r.clock
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::doc;

    #[test]
    fn a_run_report_is_not_a_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, serde_json::to_string(&doc().runs[0]).unwrap()).unwrap();
        let err = CompareDoc::load_baseline(&path, MaxLineLength::DEFAULT).unwrap_err();
        assert!(err.0.contains("not a compare output"), "{}", err.0);
        std::fs::write(&path, serde_json::to_string(&doc()).unwrap()).unwrap();
        assert_eq!(
            CompareDoc::load_baseline(&path, MaxLineLength::DEFAULT).unwrap(),
            doc()
        );
    }

    #[test]
    fn an_interrupted_run_has_no_efficiency_and_reads_back() {
        let mut d = doc();
        d.runs[1].interrupted = true;
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["runs"][1]["efficiency"].is_null(), "{json}");
        assert!(json["runs"][0]["efficiency"].is_f64());
        let back: CompareDoc = serde_json::from_value(json).unwrap();
        assert!(back.runs[1].interrupted);
        assert_eq!(back.runs[1].efficiency, 0.0);
    }

    /// The CI gate compares against this file, saved before reports named their build.
    #[test]
    fn the_saved_baseline_without_build_still_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline.json");
        let saved = CompareDoc::load_baseline(&path, MaxLineLength::DEFAULT).unwrap();
        assert!(saved.build.is_none() && saved.runs.iter().all(|r| r.build.is_none()));
        let fresh = CompareDoc::new(saved.runs.clone());
        let json = serde_json::to_value(&fresh).unwrap();
        assert_eq!(json["build"]["commit"], crate::build_info::COMMIT);
    }
}
