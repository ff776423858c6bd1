//! `eventbench verify`: judge the processed log of any system against its workload.

use crate::cli::GlobalArgs;
use crate::engine::Workers;
use crate::error::CheckFailed;
use crate::judge::foreign_log::{LogSpec, Pattern};
use crate::judge::time::TimeFormat;
use crate::output::Format;
use crate::types::Micros;
use anyhow::Result;
use std::path::PathBuf;

/// Flags of `verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = r#"Examples:
  eventbench verify --events events.csv --log log.csv     # our --log, or a CSV naming the ids
  eventbench verify --events events.csv --log app.log --process-time 100ms \
    --log-pattern '\[(?P<time>.+?)\] event (?P<event_id>\d+) account (?P<account_id>\d+)' \
    --time-format '%d.%m.%Y %H:%M:%S'
  eventbench verify --events events.csv --log out.csv --sent sent.csv --workers 8 --json v.json
  eventbench verify --events events.csv --log before-crash.csv --log after-restart.csv

Logs: our processed-log CSV; any CSV whose header names account_id and event_id, optionally
with start/end (times) or start_us/end_us (microseconds); or text lines read with --log-pattern
(named groups account_id, event_id, optional start, end; `time` is the same as end). A single
time per line is taken as the moment the event was done. Without times, line order is taken as
completion order. Times equal at the log's resolution are ordered by line.

Several --log files are the processes of one system that restarted, in the order they ran:
each has its own time base (unless its times are unix times, it is placed right after the
previous log's last time). An event the later process ran again counts as redelivered, not as
a duplicate, when it is the one its account was at when the earlier log ends.

Exit codes: 0 every event processed once, in per-account order; 1 anything lost, duplicated,
out of order or shorter than its processing time; 2 bad usage or input."#)]
pub struct Args {
    /// The workload the system was given (events CSV, as written by `generate`; `-`: standard
    /// input) [default: standard input when piped, else ./events.csv if it exists, else the
    /// built-in workload, as `send` sends]
    #[arg(long, short)]
    pub events: Option<PathBuf>,
    #[command(flatten)]
    pub reading: crate::cli::InputArgs,
    /// The system's processed log: one line per processed event (`-`: standard input).
    /// Repeat it for a system that restarted: one file per process, in the order they ran
    #[arg(long, short, required = true)]
    pub log: Vec<PathBuf>,
    /// Regular expression for text logs, with named groups account_id, event_id and optionally
    /// start, end (or time)
    #[arg(long, value_parser = parse_pattern)]
    pub log_pattern: Option<Pattern>,
    /// How times are written: a strftime format (e.g. '%Y-%m-%d %H:%M:%S%.f %z'; %.f takes
    /// fractional seconds, %z an offset, without a zone the system time zone applies), or
    /// auto (unix numbers by magnitude, or ISO 8601), unix, unix-ms, unix-us
    #[arg(long, default_value = "auto")]
    pub time_format: TimeFormat,
    /// The CSV written by `send --sent`: latency and wall time count from acceptance
    #[arg(long)]
    pub sent: Option<PathBuf>,
    /// Processing time of every event (when the events have no duration_us column)
    #[arg(long, default_value = "1s")]
    pub process_time: Micros,
    /// Workers the system had, for the lower bound (auto: one per account)
    #[arg(long, short, default_value = "auto")]
    pub workers: Workers,
    /// Write the report as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_pattern(s: &str) -> Result<Pattern, String> {
    s.parse()
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    super::check_output_paths([args.json.as_deref()])?;
    let stdin_logs = args
        .log
        .iter()
        .filter(|p| crate::workload::is_stdin(p))
        .count();
    if stdin_logs > 1 {
        return Err(crate::error::UsageError(
            "--log - can be given once: standard input is read only once".into(),
        )
        .into());
    }
    let log_stdin = stdin_logs == 1;
    if args
        .events
        .as_deref()
        .is_some_and(crate::workload::is_stdin)
        && log_stdin
    {
        return Err(crate::error::UsageError(
            "--events - and --log - cannot both read standard input".into(),
        )
        .into());
    }
    let workload = super::load_workload_with(
        args.events.as_deref(),
        args.process_time,
        global.quiet,
        !log_stdin,
        args.reading,
    )?;
    let spec = LogSpec {
        pattern: args.log_pattern,
        time: args.time_format,
    };
    let started = std::time::Instant::now();
    let (findings, summary) = crate::judge::judge(
        &workload,
        &args.log,
        &spec,
        args.sent.as_deref(),
        args.reading.max_line_length,
    )?;
    if !global.quiet {
        let secs = started.elapsed().as_secs_f64();
        let rate = summary.lines as f64 / secs.max(1e-9);
        let rate = if rate >= 1e6 {
            format!("{:.1} M", rate / 1e6)
        } else {
            format!("{:.0} k", rate / 1e3)
        };
        eprintln!(
            "read and checked {} log lines in {secs:.2} s ({rate} lines/s)",
            summary.lines
        );
    }
    let lanes = match args.workers {
        Workers::Auto => None,
        fixed => Some(fixed.resolve(0)),
    };
    if !global.quiet && findings.redelivered > 0 {
        eprintln!(
            "{} event(s) run again after a restart, where the previous process had stopped: \
             counted as redelivered, not as duplicates",
            findings.redelivered
        );
    }
    let report = crate::judge::report(&workload, findings, &summary, lanes);
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &report)?;
    }
    crate::report::print_report(&report, args.format)?;
    if report.passed() {
        return Ok(());
    }
    Err(CheckFailed(format!(
        "{}: {} lost, {} duplicated, {} out of order, {} short handlers",
        summary_name(&args.log),
        report.unprocessed,
        report.duplicates,
        report.ordering_violations,
        report.short_handlers
    ))
    .into())
}

fn summary_name(logs: &[PathBuf]) -> String {
    let names: Vec<String> = logs.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}
