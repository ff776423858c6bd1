//! Reports: what a run achieved against its lower bound, as a terminal table or JSON, plus the
//! processed log. The JSON field names are a contract (docs/REPORT.md): add fields, never
//! rename.

pub(crate) mod alarms;
pub(crate) mod backend;
pub(crate) mod baseline;
pub(crate) mod blast;
pub(crate) mod external;
#[cfg(test)]
pub(crate) mod fixture;
pub(crate) mod handling;
mod print;
pub(crate) mod processed_log;
pub(crate) mod ranking;
pub(crate) mod repeat;
pub(crate) mod stats;
pub(crate) mod summary;
pub(crate) mod sweep;
pub(crate) mod table;
pub(crate) mod usage;

use crate::build_info::Build;
use crate::engine::bound::{lower_bound, lower_bound_over_arrivals};
use crate::engine::order_check::{self, OrderCheck};
use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::engine::{ClockKind, Plan, Strategy};
use crate::error::CheckFailed;
use crate::workload::Workload;
use anyhow::Result;
pub(crate) use backend::{Backend, Design};
pub(crate) use handling::{BoundBasis, Handling, TimingBasis};
pub(crate) use print::print_report;
use serde::{Deserialize, Serialize};
use stats::{Distribution, Percentiles};
use std::path::Path;

/// One run's report (the `--json` object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub eventbench_version: String,
    /// The build that made the report (absent in documents of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// Where the events came from (file path, built-in workload, live ingest).
    pub input: String,
    /// A hash of the workload's events (ids, accounts, durations) to match runs across files.
    pub workload_fingerprint: String,
    pub events: u64,
    pub accounts: u64,
    pub strategy: Strategy,
    /// Lanes the run had: the number given, or one per account for `auto` / `per-account`.
    pub workers: u64,
    /// `--workers` as given (`auto` or a number).
    pub workers_requested: String,
    pub clock: ClockKind,
    /// Where the events were queued: `memory` (the default, left out of the JSON) or, in
    /// `compare --broker`, RabbitMQ with our consumer or the original design.
    #[serde(default, skip_serializing_if = "Backend::is_memory")]
    pub backend: Backend,
    /// The fixed processing time, or the mean duration when events carry their own.
    pub process_time_s: f64,
    pub per_event_durations: bool,
    pub longest_chain: u64,
    pub total_work_s: f64,
    pub lower_bound_s: f64,
    /// `batch` (every event there at time 0) or `arrivals` (live runs: from the first arrival,
    /// and no event can start before it arrived); see docs/REPORT.md.
    #[serde(default)]
    pub timing_basis: TimingBasis,
    pub wall_time_s: f64,
    /// `lower_bound_s / wall_time_s` (1.0 when the wall time is zero). `null` in compare.json
    /// for an interrupted run, read back as 0 (an interrupted run is never compared).
    #[serde(deserialize_with = "null_as_zero")]
    pub efficiency: f64,
    /// Processed events per second of wall time (0 when the wall time is zero).
    pub throughput_eps: f64,
    pub ordering_violations: u64,
    pub unprocessed: u64,
    pub duplicates: u64,
    pub short_handlers: u64,
    pub max_in_flight: u64,
    /// The run was stopped before every event ran (Ctrl-C, shutdown).
    pub interrupted: bool,
    /// Queue entry to end of processing, per event.
    pub latency_us: Percentiles,
    /// Handler time beyond the event's own duration (engine + timer cost), per event.
    pub overshoot_us: Percentiles,
    /// What processing meant and how it went (`--handler`, docs/REPORT.md).
    #[serde(flatten)]
    pub handling: Handling,
    /// How real-clock sleeps ended (`--timer`): `precise` or `sleep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerMode>,
    /// The first few violations, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    /// `serve` only: how accepted events were kept.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    /// `--runs` / `--warmup`: every measured wall time and their spread; `wall_time_s`,
    /// `efficiency` and `throughput_eps` are then those of the mean.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<repeat::Repeats>,
    /// What `verify` found in another system's log (absent for our own runs).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub external: Option<external::External>,
    /// `--fault`: how far the faults spread to the other accounts (docs/REPORT.md).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub blast: Option<blast::Blast>,
    /// Latency histogram for the terminal: `(upper bound µs, count)`.
    #[serde(skip)]
    pub latency_histogram: Vec<(u64, u64)>,
}

/// How `serve` kept the events it accepted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// `durable` (on disk before the 202) or `in-memory`.
    pub queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// Unfinished events found in the data dir at start and run first.
    #[serde(default)]
    pub resumed: u64,
    /// Of those, the ones that had started before the previous process died: they ran again
    /// (at-least-once), so the processed log may show them twice across the two runs.
    #[serde(default)]
    pub redelivered: u64,
    /// Present only when `serve --accept-data-loss` started on a data dir that held less
    /// than its high-water mark or was damaged: accepted events were lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<DataLoss>,
}

/// What a start with `--accept-data-loss` found missing from the data dir.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataLoss {
    /// The high-water mark file the database was compared with.
    pub mark_file: String,
    /// Event ids the mark says were accepted.
    pub mark_accepted: u64,
    /// How many accepted ids the database still had.
    pub found_accepted: u64,
    /// Ids of the mark the database did not have: lost events (still refused with 409).
    pub missing_accepted: u64,
    /// The last sequence number the mark saw given, and the database's (`None`: none).
    pub mark_last_seq: Option<u64>,
    pub found_last_seq: Option<u64>,
    /// `PRAGMA quick_check` findings, missing tables, an unreadable mark.
    pub damage: Vec<String>,
}

/// What the report needs to know about how the run was configured.
#[derive(Clone, Copy, Debug)]
pub struct RunInfo {
    pub plan: Plan,
    pub clock: ClockKind,
}

impl Report {
    /// Builds the report of one verified run.
    pub fn build(w: &Workload, info: RunInfo, exec: &Execution, v: &OrderCheck) -> Report {
        let shape = w.shape();
        let lanes = info.plan.lanes(shape.accounts);
        let (latency, overshoot, took) = distributions(w, exec);
        let ran = shape.events - v.unprocessed;
        let bounds = Bounds::of(w, lanes, exec, v.unprocessed > 0);
        let wall = exec.wall.saturating_sub(bounds.origin).as_secs_f64();
        let (bound_s, ran_bound_s) = (bounds.all.as_secs_f64(), bounds.ran.as_secs_f64());
        let process_time = shape.process_time_s();
        Report {
            eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
            build: Some(Build::current()),
            input: w.source().to_string(),
            workload_fingerprint: w.fingerprint(),
            events: shape.events,
            accounts: shape.accounts,
            strategy: info.plan.strategy(),
            // `auto` is one lane per account: none for an empty workload, not the engines' 1.
            workers: match info.plan.workers() {
                crate::engine::Workers::Auto => shape.accounts,
                crate::engine::Workers::Fixed(_) => lanes.unwrap_or(shape.accounts),
            },
            workers_requested: info.plan.workers().to_string(),
            clock: info.clock,
            backend: Backend::Memory,
            process_time_s: process_time,
            per_event_durations: w.has_per_event_durations(),
            longest_chain: shape.longest_chain,
            total_work_s: shape.total_work.as_secs_f64(),
            lower_bound_s: bound_s,
            timing_basis: bounds.basis,
            wall_time_s: wall,
            efficiency: if wall > 0.0 { ran_bound_s / wall } else { 1.0 },
            throughput_eps: if wall > 0.0 { ran as f64 / wall } else { 0.0 },
            ordering_violations: v.ordering_violations,
            unprocessed: v.unprocessed,
            duplicates: v.duplicates,
            short_handlers: v.short_handlers,
            max_in_flight: v.max_in_flight,
            interrupted: exec.interrupted,
            latency_us: latency.percentiles(),
            overshoot_us: overshoot.percentiles(),
            handling: Handling {
                handler_us: took.percentiles(),
                handler_calls: took.len(),
                ..Handling::default()
            },
            timer: exec.timer,
            violations: v.examples.iter().map(ToString::to_string).collect(),
            queue: None,
            repeats: None,
            external: None,
            blast: None,
            latency_histogram: latency.buckets(10),
        }
    }

    /// True when the run's checks passed. Events dead-lettered without a try (a stopped
    /// account, an aborted run) are unprocessed by design; their failure is `given_up`.
    pub fn passed(&self) -> bool {
        self.ordering_violations == 0
            && self.duplicates == 0
            && self.short_handlers == 0
            && (self.interrupted || self.unprocessed == self.handling.not_attempted)
    }

    /// A failed verification as the error that exits with code 1.
    pub fn check(&self) -> Result<(), CheckFailed> {
        if self.passed() {
            return Ok(());
        }
        Err(CheckFailed(format!(
            "ordering check failed: {} violations, {} duplicates, {} short handlers, {} unprocessed",
            self.ordering_violations, self.duplicates, self.short_handlers, self.unprocessed
        )))
    }
}

/// What a finished run hands to its report, whatever ran it: the workload as it ran (a live
/// run's in arrival order; a real handler's with its measured durations), what happened to
/// each event, and what only the runner knows.
pub struct Outcome {
    pub workload: Workload,
    pub execution: Execution,
    pub info: RunInfo,
    pub backend: Backend,
    /// A real handler's account of the run; `None`: the sleep handler's default.
    pub handling: Option<Handling>,
    /// The input's identity when the workload's durations were replaced by measured ones.
    pub fingerprint: Option<String>,
    /// The CPU the run used.
    pub cpu: usage::CpuTime,
    /// `serve` only: how accepted events were kept.
    pub queue: Option<QueueInfo>,
    /// `--fault`: the fault-free reference the bystanders are measured against.
    pub faults: Option<blast::FaultRun>,
}

impl Report {
    /// The one way a run becomes a report: verifies the order, builds the report, writes the
    /// processed log to `log` if asked; hands the workload back (a sweep runs it again).
    pub fn from_outcome(o: Outcome, log: Option<&Path>) -> Result<(Report, Workload)> {
        let blast = o
            .faults
            .as_ref()
            .map(|f| blast::measure(&o.workload, &o.execution, f));
        let mut report = Report::verified(&o.workload, o.info, o.execution, log)?;
        report.blast = blast;
        if let Some(c) = o.faults.as_ref().and_then(|f| f.failures) {
            let h = &mut report.handling;
            h.handler_failures = c.failures;
            h.retries = c.retries;
            h.handler_calls += c.retries;
            h.given_up = c.given_up;
            h.not_attempted = c.not_attempted;
        }
        if let Some(h) = o.handling {
            report.handling = h;
        }
        if let Some(f) = o.fingerprint {
            report.workload_fingerprint = f;
        }
        report.handling.set_cpu(o.cpu);
        report.backend = o.backend;
        report.queue = o.queue;
        Ok((report, o.workload))
    }

    /// The part of [`Report::from_outcome`] that reads the records: the order check, the
    /// figures, the processed log, the most events in flight (which consumes the records).
    pub fn verified(
        w: &Workload,
        info: RunInfo,
        exec: Execution,
        log: Option<&Path>,
    ) -> Result<Report> {
        let verdict = order_check::check_order(w, &exec.records);
        let mut report = Report::build(w, info, &exec, &verdict);
        if let Some(path) = log {
            processed_log::write(path, w, &exec.records)?;
        }
        report.max_in_flight = order_check::max_in_flight(exec.records);
        Ok(report)
    }
}

/// A run's lower bounds and where its wall time starts.
struct Bounds {
    basis: TimingBasis,
    /// Time zero of the wall time: 0 for a batch, the first arrival for a live run.
    origin: crate::types::Micros,
    /// The bound of the whole workload, from `origin`.
    all: crate::types::Micros,
    /// The bound of the events that ran: a run that stopped early is measured against it, as
    /// the whole workload's bound would put it above 100%.
    ran: crate::types::Micros,
}

impl Bounds {
    fn of(w: &Workload, lanes: Option<u64>, exec: &Execution, partial: bool) -> Bounds {
        let records = &exec.records;
        let ran = |e| records.get(e).is_some();
        if !records.has_arrivals() {
            let all = lower_bound(&w.shape(), lanes);
            let done = if partial {
                lower_bound(&w.shape_of(ran), lanes)
            } else {
                all
            };
            return Bounds {
                basis: TimingBasis::Batch,
                origin: crate::types::Micros::ZERO,
                all,
                ran: done,
            };
        }
        let origin = records.first_arrival();
        let at = |e| records.arrival_of(e);
        let all = lower_bound_over_arrivals(w, lanes, at, |_| true).saturating_sub(origin);
        let done = if partial {
            lower_bound_over_arrivals(w, lanes, at, ran).saturating_sub(origin)
        } else {
            all
        };
        Bounds {
            basis: TimingBasis::Arrivals,
            origin,
            all,
            ran: done,
        }
    }
}

fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(0.0))
}

/// Latency, overshoot and handler time (start to end) of every event that ran.
fn distributions(w: &Workload, exec: &Execution) -> (Distribution, Distribution, Distribution) {
    let mut latency = Distribution::default();
    let mut overshoot = Distribution::default();
    let mut handler = Distribution::default();
    for e in w.indexes() {
        if let Some(r) = exec.records.get(e) {
            latency.record(r.end.saturating_sub(r.arrival).0);
            let took = r.end.saturating_sub(r.start);
            overshoot.record(took.saturating_sub(w.duration(e)).0);
            handler.record(took.0);
        }
    }
    (latency, overshoot, handler)
}
