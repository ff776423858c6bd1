//! Judging another system: reads its processed log (any of several formats) against the
//! workload it was given and finds what was lost, duplicated, unknown or out of order.
//!
//! `verify` is its command; the verdict becomes the same [`Report`](crate::report::Report) that
//! `run` prints, with the strategy `external`.

pub(crate) mod check;
pub mod foreign_log;
pub(crate) mod sent;
pub(crate) mod time;

use crate::engine::bound::{lower_bound, lower_bound_over_arrivals};
use crate::engine::{ClockKind, Strategy};
use crate::report::external::External;
use crate::report::Report;
use crate::report::{Backend, TimingBasis};
use crate::types::Micros;
use crate::workload::line_limit::MaxLineLength;
use crate::workload::Workload;
use anyhow::Result;
use check::{Findings, Judge};
use foreign_log::{LogSpec, LogSummary};
use std::path::Path;

/// Reads the logs (and the `--sent` file), no line longer than `max_line`, and judges them
/// against `w`. Several logs are the processes of one system that restarted, in order: each
/// has its own time base, so unless its times are unix times it is placed right after the
/// previous one's last time (the time the system was down is not counted).
pub(crate) fn judge(
    w: &Workload,
    logs: &[std::path::PathBuf],
    spec: &LogSpec,
    sent: Option<&Path>,
    max_line: MaxLineLength,
) -> Result<(Findings, LogSummary)> {
    let sent_rows = sent.map(|p| sent::read(p, max_line)).transpose()?;
    let mut judge = Judge::new(w);
    let (first, later) = logs.split_first().expect("clap requires one --log");
    let mut summary = foreign_log::read(first, spec, max_line, |e| judge.add(e))?;
    judge.name_first(first.display().to_string());
    let mut prev_lines = summary.lines;
    for path in later {
        judge.next_process(prev_lines, path.display().to_string());
        let mut entries = Vec::new();
        let next = foreign_log::read(path, spec, max_line, |e| entries.push(e))?;
        let earliest = entries
            .iter()
            .flat_map(|e| [e.start, e.end])
            .flatten()
            .min();
        let shift = match (next.absolute, judge.latest_time(), earliest) {
            (false, Some(latest), Some(earliest)) => latest + 1 - earliest,
            _ => 0,
        };
        for mut e in entries {
            e.start = e.start.map(|t| t + shift);
            e.end = e.end.map(|t| t + shift);
            judge.add(e);
        }
        prev_lines = next.lines;
        summary = merged(summary, next);
    }
    if let Some(rows) = &sent_rows {
        judge.accepted(rows);
    }
    let mut findings = judge.finish(&summary);
    if let Some(n) = logs.len().checked_sub(1).filter(|&n| n > 0) {
        findings.notes.push(format!(
            "{} logs of one system that restarted {n} time(s): each later log's times are \
             placed right after the previous log's last time (time spent down is not counted); \
             {} event(s) run again where a process had stopped count as redelivered",
            logs.len(),
            findings.redelivered
        ));
    }
    Ok((findings, summary))
}

/// One summary of several logs: lines add up, times are what every log has.
fn merged(a: LogSummary, b: LogSummary) -> LogSummary {
    let mut examples = a.unmatched_examples;
    examples.extend(b.unmatched_examples);
    examples.truncate(5);
    LogSummary {
        path: format!("{}, {}", a.path.display(), b.path.display()).into(),
        format: if a.format == b.format {
            a.format
        } else {
            foreign_log::LogFormat::Csv
        },
        lines: a.lines + b.lines,
        unmatched: a.unmatched + b.unmatched,
        unmatched_examples: examples,
        has_start: a.has_start && b.has_start,
        has_end: a.has_end && b.has_end,
        absolute: a.absolute && b.absolute,
        resolution: a.resolution.coarser(b.resolution),
    }
}

/// The report of a judged log: `run`'s report with the strategy `external`; `lanes` is
/// `--workers` (None: the bound of unlimited workers, the longest account).
pub(crate) fn report(
    w: &Workload,
    mut f: Findings,
    log: &LogSummary,
    lanes: Option<u64>,
) -> Report {
    let shape = w.shape();
    // A system seen running more events at once than --workers says had at least that many.
    let lanes = lanes.map(|l| {
        if f.max_in_flight > l {
            f.notes.push(format!(
                "the log shows {} events in flight at once, more than --workers {l}; the bound \
                 uses {}",
                f.max_in_flight, f.max_in_flight
            ));
        }
        l.max(f.max_in_flight)
    });
    let (bound, done_bound, timing) = bounds(w, &f, lanes);
    let wall_s = f.wall_us.map_or(0.0, |us| us as f64 / 1e6);
    let external = external(&mut f, log);
    let process_time = shape.process_time_s();
    Report {
        eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
        build: Some(crate::build_info::Build::current()),
        input: w.source().to_string(),
        workload_fingerprint: w.fingerprint(),
        events: shape.events,
        accounts: shape.accounts,
        strategy: Strategy::External,
        workers: lanes.unwrap_or(shape.accounts),
        workers_requested: lanes.map_or("auto".into(), |l| l.to_string()),
        clock: ClockKind::Real,
        backend: Backend::Memory,
        process_time_s: process_time,
        per_event_durations: w.has_per_event_durations(),
        longest_chain: shape.longest_chain,
        total_work_s: shape.total_work.as_secs_f64(),
        lower_bound_s: bound,
        timing_basis: timing,
        wall_time_s: wall_s,
        efficiency: if wall_s > 0.0 {
            done_bound / wall_s
        } else {
            0.0
        },
        throughput_eps: if wall_s > 0.0 {
            f.processed as f64 / wall_s
        } else {
            0.0
        },
        ordering_violations: f.reordered + f.overlaps,
        unprocessed: f.lost,
        duplicates: f.duplicates,
        short_handlers: f.short_handlers,
        max_in_flight: f.max_in_flight,
        interrupted: false,
        latency_us: f.latency.percentiles(),
        overshoot_us: f.overshoot.percentiles(),
        // Whatever processed these events is not ours to describe.
        handling: crate::report::Handling {
            handler: "external".into(),
            ..Default::default()
        },
        timer: None,
        violations: f.violations,
        latency_histogram: f.latency.buckets(10),
        queue: None,
        repeats: None,
        external: Some(external),
        blast: None,
    }
}

/// The bound of the whole workload and of the events the log shows (lost events did no work;
/// the whole workload's bound would put the efficiency above 100%). With `--sent` acceptance
/// times, no event can start before it was accepted, and the wall time starts at the first.
fn bounds(w: &Workload, f: &Findings, lanes: Option<u64>) -> (f64, f64, TimingBasis) {
    let Some(at) = &f.arrival_us else {
        let bound = lower_bound(&w.shape(), lanes).as_secs_f64();
        let done = f
            .done
            .as_ref()
            .map_or(bound, |done| lower_bound(done, lanes).as_secs_f64());
        return (bound, done, TimingBasis::Batch);
    };
    let arrival = |e: crate::types::EventIdx| Micros(at[e.0 as usize]);
    let bound = lower_bound_over_arrivals(w, lanes, arrival, |_| true).as_secs_f64();
    let done = match f.done {
        Some(_) => {
            let logged = |e: crate::types::EventIdx| f.logged[e.0 as usize];
            lower_bound_over_arrivals(w, lanes, arrival, logged).as_secs_f64()
        }
        None => bound,
    };
    (bound, done, TimingBasis::Arrivals)
}

/// What only a judged log has: how it was read, what it lacked, how exact its times are.
fn external(f: &mut Findings, log: &LogSummary) -> External {
    let times = match (log.has_start, log.has_end) {
        (true, true) => "start and end",
        (false, true) => "end only",
        (true, false) => "start only",
        (false, false) => "none",
    };
    let timed = log.has_start || log.has_end;
    let step = timed.then(|| log.resolution.micros());
    External {
        log: log.path.display().to_string(),
        log_format: log.format.name().into(),
        log_lines: log.lines,
        lost: f.lost,
        unknown: f.unknown,
        redelivered: f.redelivered,
        unmatched_lines: log.unmatched,
        reordered: f.reordered,
        overlaps: f.overlaps,
        times: times.into(),
        time_resolution_us: step,
        wall_time_uncertainty_s: f.wall_us.and(step).map(|us| us as f64 / 1e6),
        wall_time_basis: std::mem::take(&mut f.wall_basis),
        latency_basis: if f.latency.is_empty() {
            "none: give --sent (from `send --sent`) and a log with unix times".into()
        } else {
            "from acceptance (--sent) to the end of processing".into()
        },
        lost_examples: std::mem::take(&mut f.lost_examples),
        duplicate_examples: std::mem::take(&mut f.duplicate_examples),
        unknown_examples: std::mem::take(&mut f.unknown_examples),
        unmatched_examples: log
            .unmatched_examples
            .iter()
            .map(|(n, t)| format!("line {n}: {t}"))
            .collect(),
        notes: std::mem::take(&mut f.notes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccountId, EventId, Micros};
    use crate::workload::Source;

    /// The report of a log with unix-second times, as `verify` would judge it.
    fn judged(w: &Workload, text: &str, lanes: Option<u64>) -> (Report, LogSummary) {
        let spec = LogSpec {
            pattern: None,
            time: "unix".parse().unwrap(),
        };
        let mut judge = Judge::new(w);
        let summary =
            foreign_log::read_bytes(text.as_bytes(), Path::new("l"), &spec, |e| judge.add(e))
                .unwrap();
        (report(w, judge.finish(&summary), &summary, lanes), summary)
    }

    #[test]
    fn the_report_states_bound_precision_and_an_understated_worker_count() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1_000_000));
        for (id, a) in [(1, 1), (2, 2), (3, 1)] {
            w.push(EventId(id), AccountId(a), None);
        }
        let text = "event_id,account_id,start,end\n1,1,100,101\n2,2,100,101\n3,1,101,102\n";
        let (r, summary) = judged(&w, text, Some(1));
        assert_eq!(r.strategy, Strategy::External);
        assert!(r.passed());
        // Two events ran at once, so the system had at least two workers: bound 2 s, not 3 s.
        assert_eq!((r.workers, r.lower_bound_s, r.wall_time_s), (2, 2.0, 2.0));
        let x = r.external.unwrap();
        assert_eq!(x.wall_time_uncertainty_s, Some(1.0));
        assert!(x.notes[0].contains("more than --workers 1"));
        let json =
            serde_json::to_value(report(&w, Judge::new(&w).finish(&summary), &summary, None))
                .unwrap();
        assert_eq!(
            (json["lost"].as_u64(), json["unprocessed"].as_u64()),
            (Some(3), Some(3))
        );
        // Saved reports read back with their external part, and ours without one.
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back.external.map(|x| x.lost), Some(3));
        let ours = crate::report::fixture::report(Strategy::Optimal, "4", 8.0, 8.0);
        let back: Report = serde_json::from_value(serde_json::to_value(&ours).unwrap()).unwrap();
        assert!(back.external.is_none());
    }

    #[test]
    fn lost_events_do_not_lift_the_efficiency_above_one() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1_000_000));
        for id in 1..=3 {
            w.push(EventId(id), AccountId(1), None);
        }
        // Only the first event of the 3 s chain ran, in 1 s: the work done had a 1 s floor.
        let (r, _) = judged(&w, "event_id,account_id,start,end\n1,1,100,101\n", None);
        assert_eq!((r.unprocessed, r.lower_bound_s), (2, 3.0));
        assert!((r.efficiency - 1.0).abs() < 1e-9, "{}", r.efficiency);
    }

    #[test]
    fn with_sent_times_the_bound_knows_when_events_were_accepted() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1_000_000));
        for id in 1..=2 {
            w.push(EventId(id), AccountId(1), None);
        }
        // Accepted at T + 100 s and T + 105 s (unix seconds), each run at once for its 1 s:
        // the system kept up.
        let s = 1_000_000i64;
        let t = 1_700_000_000i64;
        let text = format!(
            "event_id,account_id,start,end\n1,1,{},{}\n2,1,{},{}\n",
            t + 100,
            t + 101,
            t + 105,
            t + 106
        );
        let spec = LogSpec {
            pattern: None,
            time: "unix".parse().unwrap(),
        };
        let mut judge = Judge::new(&w);
        let summary =
            foreign_log::read_bytes(text.as_bytes(), Path::new("l"), &spec, |e| judge.add(e))
                .unwrap();
        judge.accepted(&[(1, (t + 100) * s), (2, (t + 105) * s)]);
        let r = report(&w, judge.finish(&summary), &summary, None);
        // Wall 6 s from the first acceptance; the bound is 105 + 1 − 100 = 6 s, not 2 s.
        assert_eq!(r.timing_basis, TimingBasis::Arrivals);
        assert_eq!((r.wall_time_s, r.lower_bound_s), (6.0, 6.0));
        assert!((r.efficiency - 1.0).abs() < 1e-9, "{}", r.efficiency);
    }
}
