//! The part of a report only `verify` has: how another system's log was read and what it
//! lacked (lost, unknown, unmatched lines), and how exact its times are.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Fields `verify` adds to the report (flattened into the JSON object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct External {
    /// The log file judged (several: comma-separated, in process order).
    pub log: String,
    /// `eventbench CSV`, `CSV` or `text, --log-pattern`.
    pub log_format: String,
    pub log_lines: u64,
    /// Workload events the log never shows (also in `unprocessed`).
    pub lost: u64,
    /// Events a restarted process ran again where the previous one stopped (with several
    /// `--log` files); not violations, not in `duplicates`.
    #[serde(default)]
    pub redelivered: u64,
    /// Log entries whose event is not in the workload, or is logged for another account.
    pub unknown: u64,
    /// Non-empty lines the pattern did not match.
    pub unmatched_lines: u64,
    /// Events processed before an earlier event of their account (in `ordering_violations`).
    pub reordered: u64,
    /// Events started before their account's previous event ended (in `ordering_violations`).
    pub overlaps: u64,
    /// Which times the log has: `start and end`, `end only`, `start only` or `none`.
    pub times: String,
    /// The log's time step (1 for exact microseconds); absent without times.
    pub time_resolution_us: Option<u64>,
    /// `wall_time_s` is known to ± this much (absent when the wall time is unknown).
    pub wall_time_uncertainty_s: Option<f64>,
    /// How the wall time was measured.
    pub wall_time_basis: String,
    /// What latency counts from (`accepted (--sent)`), or why there is none.
    pub latency_basis: String,
    pub lost_examples: Vec<String>,
    pub duplicate_examples: Vec<String>,
    pub unknown_examples: Vec<String>,
    pub unmatched_examples: Vec<String>,
    pub notes: Vec<String>,
}

impl External {
    /// The lines the table shows for a judged log.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let resolution = match self.time_resolution_us {
            Some(us) => format!("resolution {}", crate::types::Micros(us)),
            None => "line order taken as completion order".into(),
        };
        let _ = writeln!(
            o,
            "log          {} ({}): {} lines, {} unmatched; times: {}, {resolution}",
            self.log, self.log_format, self.log_lines, self.unmatched_lines, self.times
        );
        let _ = writeln!(
            o,
            "checked      {} lost, {} unknown, {} reordered, {} overlapping",
            self.lost, self.unknown, self.reordered, self.overlaps
        );
        if self.redelivered > 0 {
            let _ = writeln!(
                o,
                "redelivered  {} event(s) run again by the restarted process where the previous \
                 one stopped",
                self.redelivered
            );
        }
        // Lost and duplicated events lead the report (see `table::alarms`).
        let groups = [
            ("unknown", &self.unknown_examples),
            ("unmatched", &self.unmatched_examples),
            ("note", &self.notes),
        ];
        for (what, list) in groups {
            for x in list {
                let _ = writeln!(o, "  {what}: {x}");
            }
        }
        o
    }
}
