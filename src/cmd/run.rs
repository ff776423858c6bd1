//! `eventbench run`: process a workload through per-account queues, verify, report.

use crate::cli::GlobalArgs;
use crate::engine::clock::Clock;
use crate::engine::clock::PreciseClock;
use crate::engine::handler::Handler;
use crate::engine::handler::SleepHandler;
use crate::engine::own_lane::{self, OwnLanes};
use crate::engine::real::{Backlog, Engine};
use crate::engine::record::Execution;
use crate::engine::timer::TimerThread;
use crate::engine::{sim, verify, ClockKind, Plan, Strategy, Workers};
use crate::error::CheckFailed;
use crate::progress::Progress;
use crate::report::{self, Report, RunInfo};
use crate::types::Micros;
use crate::workload::Workload;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;

/// Flags of `run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench run                                   # built-in workload: 10,000 events, 1,000 accounts, 1 s each
  eventbench run --input events.csv --workers 500 --strategy sharded   # the original PHP design
  eventbench run --clock virtual --strategy optimal --workers 100      # exact schedule, instantly
  eventbench run --process-time 100ms --log log.csv --json report.json

Exit codes: 0 ok, 1 ordering violated, 2 bad usage or input, 3 could not complete,
130 interrupted by Ctrl-C (after the partial report).")]
pub struct Args {
    /// Events CSV to process [default: ./events.csv if it exists, else the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Most events in flight: `auto` (one lane per account with events) or a number ≥ 1
    #[arg(long, short, default_value = "auto")]
    pub workers: Workers,
    /// How events are assigned to workers
    #[arg(long, short, value_enum, default_value_t = Strategy::Optimal)]
    pub strategy: Strategy,
    /// Processing time of every event (when the input has no duration_us column), e.g. 1s, 250ms
    #[arg(long, default_value = "1s")]
    pub process_time: Micros,
    /// `real` sleeps for real; `virtual` computes the same schedule exactly and instantly
    #[arg(long, value_enum, default_value_t = ClockKind::Real)]
    pub clock: ClockKind,
    /// Write every processed event (account_id,event_id,worker,start_us,end_us) to this CSV
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Write the report as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Bring the events in through the web API: start `serve` in-process on 127.0.0.1:0 and
    /// send the workload over real HTTP (the whole original pipeline in one command)
    #[arg(long, value_enum, conflicts_with_all = ["broker", "clock"])]
    pub ingest: Option<Ingest>,
    /// Queue the events in RabbitMQ (amqp://...) instead of in memory
    #[arg(long, requires = "queues", conflicts_with = "clock")]
    pub broker: Option<String>,
    /// Number of RabbitMQ queues (eventbench.0 .. eventbench.N-1) with --broker
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), requires = "broker")]
    pub queues: Option<u32>,
    /// Queue name prefix with --broker (queues are PREFIX.0 .. PREFIX.N-1)
    #[arg(long, default_value = crate::broker::amqp::DEFAULT_PREFIX, requires = "broker")]
    pub queue_prefix: String,
}

/// Ways to bring events into the engine besides loading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ingest {
    /// POST each event to an in-process `serve` over loopback HTTP.
    Http,
}

/// How a report is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let plan = Plan::new(args.strategy, args.workers)?;
    super::check_output_paths([args.log.as_deref(), args.json.as_deref()])?;
    let workload = super::load_workload(args.input.as_deref(), args.process_time)?;
    let info = RunInfo {
        plan,
        clock: args.clock,
    };
    if !global.quiet {
        announce(&workload, info);
    }
    let (workload, exec) = match (args.ingest, &args.broker, args.clock) {
        (Some(Ingest::Http), _, _) => {
            crate::server::ingest::run_http(workload, plan, global.quiet)?
        }
        (None, Some(url), _) => {
            let queues = args.queues.expect("clap requires --queues with --broker");
            crate::broker::run_through(
                url,
                queues,
                &args.queue_prefix,
                workload,
                plan,
                global.quiet,
            )?
        }
        (None, None, clock) => execute(workload, plan, clock, global.quiet)?,
    };
    let report = finish_run(&workload, info, exec, args.log.as_ref(), args.json.as_ref())?;
    print_report(&report, args.format)?;
    check(&report)?;
    if report.interrupted {
        return Err(crate::error::Interrupted(report.unprocessed).into());
    }
    Ok(())
}

/// One stderr line before the work starts: what runs, and how long it cannot beat.
fn announce(w: &Workload, info: RunInfo) {
    let shape = w.shape();
    let bound = crate::engine::bound::lower_bound(&shape, info.plan.lanes(shape.accounts));
    eprintln!(
        "input: {} ({} events, {} accounts); {} strategy, {} workers, {} clock; lower bound {}",
        w.source(),
        shape.events,
        shape.accounts,
        info.plan.strategy(),
        info.plan.workers(),
        info.clock,
        bound
    );
}

/// Runs a loaded workload in memory on either clock.
pub fn execute(
    workload: Workload,
    plan: Plan,
    clock: ClockKind,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    match clock {
        ClockKind::Virtual => {
            let lanes = plan.lanes(workload.account_count() as u64);
            let exec = sim::run(&workload, plan.strategy(), lanes);
            Ok((workload, exec))
        }
        ClockKind::Real => run_real(workload, plan, quiet),
    }
}

/// Runs on the real clock: tokio workers for the handlers, the precise timer thread for the
/// sleeps. Ctrl-C stops new starts, lets the events in flight end, and reports what ran.
pub fn run_real(workload: Workload, plan: Plan, quiet: bool) -> Result<(Workload, Execution)> {
    let rt = crate::engine::runtime()?;
    let outcome = rt.block_on(async move {
        let timer = TimerThread::start().context("cannot start the timer thread")?;
        let progress = Progress::new(workload.len() as u64, "processing", quiet);
        let accounts = workload.account_count() as u64;
        let lanes = plan.lanes(accounts);
        // With a lane for every account no policy ever decides anything: the lock-free
        // executor runs each account's chain (see engine::own_lane).
        if plan.strategy() != Strategy::Sharded && lanes.is_none_or(|l| l >= accounts) {
            let prepared = own_lane::Prepared::new(workload);
            let clock = PreciseClock::new(timer.handle());
            let run = OwnLanes::launch(prepared, SleepHandler, clock);
            until_done(&run, &progress).await;
            return Ok(run.finish());
        }
        let backlog = Backlog::new(workload, plan.strategy(), lanes);
        let clock = PreciseClock::new(timer.handle());
        let engine = Engine::launch(backlog, SleepHandler, clock, None);
        engine.close();
        until_done(&engine, &progress).await;
        Ok(engine.finish(ClockKind::Real))
    });
    drop(rt);
    release_freed_memory();
    outcome
}

/// What `run` needs from a real-clock execution in progress.
trait Running: Clone + Send + Sync + 'static {
    fn finished(&self) -> u64;
    fn stop(&self);
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send;
}

impl<H: Handler, C: Clock> Running for Engine<H, C> {
    fn finished(&self) -> u64 {
        self.counters().finished.load(Relaxed)
    }
    fn stop(&self) {
        Engine::stop(self);
    }
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send {
        Engine::wait(self)
    }
}

impl<H: Handler, C: Clock> Running for OwnLanes<H, C> {
    fn finished(&self) -> u64 {
        OwnLanes::finished(self)
    }
    fn stop(&self) {
        OwnLanes::stop(self);
    }
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send {
        OwnLanes::wait(self)
    }
}

/// Shows progress until the run ends. Ctrl-C stops new starts and lets the events in flight
/// finish; a second Ctrl-C aborts at once.
async fn until_done<R: Running>(run: &R, progress: &Progress) {
    let watcher = run.clone();
    let ticker = progress.follow(move || watcher.finished());
    tokio::select! {
        _ = run.wait() => {}
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: letting the events in flight finish (Ctrl-C again to abort)");
            run.stop();
            tokio::spawn(async {
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            });
            run.wait().await;
        }
    }
    if let Some(t) = ticker {
        t.stop().await;
    }
    progress.finish();
}

/// Hands the heap freed by a run (a million in-flight handler states) back to the OS before
/// the verifier allocates its own buffers, so the peak is the run's, not the sum of both.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Verifies a finished run, builds its report and writes the requested files.
pub fn finish_run(
    w: &Workload,
    info: RunInfo,
    exec: Execution,
    log: Option<&PathBuf>,
    json: Option<&PathBuf>,
) -> Result<Report> {
    let verdict = verify::check_order(w, &exec.records);
    let mut report = Report::build(w, info, &exec, &verdict);
    if let Some(path) = log {
        report::log::write(path, w, &exec.records)?;
    }
    // Last, because it consumes the records.
    report.max_in_flight = verify::max_in_flight(exec.records);
    if let Some(path) = json {
        crate::output::write_atomic(path, |f| {
            serde_json::to_writer_pretty(&mut *f, &report)?;
            Ok(writeln!(f)?)
        })?;
    }
    Ok(report)
}

/// Prints a report on stdout in the chosen format.
pub fn print_report(report: &Report, format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => out.write_all(report::table::render(report).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Turns a failed verification into exit code 1.
pub fn check(report: &Report) -> Result<()> {
    if report.passed() {
        return Ok(());
    }
    Err(CheckFailed(format!(
        "ordering check failed: {} violations, {} duplicates, {} short handlers, {} unprocessed",
        report.ordering_violations, report.duplicates, report.short_handlers, report.unprocessed
    ))
    .into())
}
