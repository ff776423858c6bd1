//! `eventbench worker`: consume RabbitMQ queues through the live engine, ack after processing.

use crate::broker::consume::{BrokerStats, Config, Live, Ownership, StopWhen};
use crate::broker::logged::Logged;
use crate::cli::{EngineArgs, GlobalArgs};
use crate::engine::exec::Abort;
use crate::engine::{ClockKind, Plan};
use crate::handler::{AnyHandler, HandlerArgs};
use crate::live::{Board, Info};
use crate::live_log::LiveLog;
use crate::output::Format;
use crate::pipeline::fault::LiveReference;
use crate::report::print_report;
use crate::report::Report;
use crate::types::Micros;
use crate::web::dashboard::Standalone;
use crate::workload::{Durations, Source, Workload};
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `worker`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench worker --broker amqp://127.0.0.1:5672/%2f --queues 500 --log worker1.csv
  eventbench worker --broker amqp://127.0.0.1:5672/%2f --queues 50 --exit-when-idle 2s --json w.json
  eventbench worker --broker amqp://127.0.0.1:5672/%2f --queues 500 --one-at-a-time  # PHP design
  eventbench worker --broker amqp://127.0.0.1:5672/%2f --queues 50 --timer sleep  # no spinning
  eventbench worker --broker amqp://127.0.0.1:5672/%2f --queues 50 --dashboard  # watch it live
      # at http://127.0.0.1:3911/ (JSON for scripts: GET /api/stats)
  eventbench worker --broker amqp://127.0.0.1:5672/%2f --queues 50 \\
      --handler 'exec:./process.sh {account_id} {event_id}' --retries 3 --dead-letter dead.csv

A message is one JSON event object or a JSON array of them (publish --batch); it is
acknowledged once all its events are done. With --handler, an event is done only after its
handler succeeded or it was given up and its row was synced to --dead-letter. --on-failure
abort stops consuming: what was not started stays unacknowledged and is redelivered.
Run one per machine, or several: the workers share the queues through the broker (a heartbeat
every second on the exchange PREFIX.members; each owns a fair share, computed alike by all).
A queue changes hands only after its old owner finished and acked all it was delivered; a
worker silent for 3.5 s is taken for gone, and its unacknowledged events are redelivered.
Exit codes: 0 ok, 1 ordering violated or events given up, 2 bad usage, 3 broker unreachable
at start or gone longer than --reconnect-timeout.")]
pub struct Args {
    #[command(flatten)]
    pub queue: crate::cli::QueueArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Unacknowledged messages per queue (basic.qos); bounds what a crash hands back. It
    /// counts messages, not events: a batched message (publish --batch) carries many events
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..))]
    pub prefetch: u16,
    /// The original design: prefetch 1, so each queue's consumer processes strictly one
    /// message at a time (head-of-line blocking across the accounts of a queue); the events
    /// of a batched message then also run one after another
    #[arg(long, conflicts_with = "prefetch")]
    pub one_at_a_time: bool,
    /// Append every processed event (account_id,event_id,worker,start_us,end_us) to this CSV,
    /// flushed per event; `worker` is this process's id
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Exit once the queues were empty and nothing was in flight for this long (else run
    /// until Ctrl-C / SIGTERM), then verify and report
    #[arg(long)]
    pub exit_when_idle: Option<Micros>,
    /// After a lost connection, keep reconnecting (with backoff) this long before giving up
    /// with exit code 3; unacknowledged events are redelivered and processed again
    #[arg(long, default_value = "60s")]
    pub reconnect_timeout: Micros,
    /// Write the report (with the broker's delivery counts) as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Serve a live dashboard of this worker at ADDR [default: 127.0.0.1:3911] (port 0: any
    /// free port; the address is printed): what it consumed, queued, runs and processed,
    /// throughput and latency over time, and the verified result once it stops. JSON for
    /// scripts: GET /api/stats
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::web::dashboard::DEFAULT_ADDR)]
    #[arg(value_parser = crate::cli::parse_listen)]
    pub dashboard: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub handlers: HandlerArgs,
    /// `slow:` and `stall:` faults (see `run --help`); the report measures the other
    /// accounts against what arrived, run without them on the virtual clock
    #[command(flatten)]
    pub fault: crate::cli::FaultArgs,
}

/// The worker's JSON report: the run report plus delivery counts.
#[derive(Serialize)]
struct WorkerReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    mode: &'static str,
    queues: u32,
    prefetch: u16,
    broker: BrokerStats,
    /// The queues this worker owned and when (seconds on the report's clock).
    owned: &'a [Ownership],
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let plan = args.engine.plan()?;
    let lanes = plan.live_lanes()?;
    args.handlers.validate(ClockKind::Real)?;
    super::check_output_paths([args.log.as_deref(), args.json.as_deref()])?;
    let log = match &args.log {
        Some(p) => Some(Arc::new(LiveLog::open(p)?)),
        None => None,
    };
    let (handler, faults) = super::live_handler(&args.handlers, &args.fault)?;
    // Bound before connecting, so a taken port fails before anything is consumed.
    let dashboard = match args.dashboard {
        Some(addr) => Some(Standalone::start(addr, board(&args, plan, lanes))?),
        None => None,
    };
    let live = dashboard.as_ref().map(|d| Live {
        board: Arc::clone(d.board()),
        preloaded: false,
    });
    let cfg = consumer_config(&args, plan, lanes, &handler, log.clone(), live);
    let stop = args
        .exit_when_idle
        .map_or(StopWhen::Signal, |d| StopWhen::Idle(d.as_duration()));
    if !global.quiet {
        let topo = &cfg.topology;
        eprintln!(
            "worker {}: consuming {} queues {}.* at {} (prefetch {}, {} strategy, {} workers)",
            std::process::id(),
            topo.queues,
            topo.prefix,
            topo.display_url(),
            cfg.prefetch,
            plan.strategy(),
            plan.workers()
        );
    }
    let consumed =
        crate::pipeline::live::consume(cfg, stop, plan, &handler, &args.handlers.handler)?;
    if let Some(l) = &log {
        l.check()?;
    }
    let mut outcome = consumed.outcome;
    if !faults.is_empty() {
        let (design, when) = reference(&args, plan)?;
        crate::pipeline::fault::fold_live(&faults, &mut outcome, design, when);
    }
    let (report, _) = Report::from_outcome(outcome, None)?;
    write_report(&args, &report, consumed.stats, &consumed.owned)?;
    if let Some(d) = dashboard {
        d.complete(&report);
    }
    report.check()?;
    crate::handler::check_failures(&report, &args.handlers)
}

/// The schedule this worker's design runs, for the fault-free reference, and when its events
/// could first start: the original design is one FIFO per queue (`sharded` over the queues),
/// each queue's backlog waiting from its first delivery (a later delivery waited for the
/// previous ack); ours is its strategy and workers, each event from its delivery.
fn reference(args: &Args, plan: Plan) -> Result<(Plan, LiveReference)> {
    if !args.one_at_a_time {
        return Ok((plan, LiveReference::AsArrived));
    }
    let queues = std::num::NonZeroU32::new(args.queue.queues).expect("clap: --queues >= 1");
    let design = Plan::new(
        crate::engine::Strategy::Sharded,
        crate::engine::Workers::Fixed(queues),
    )?;
    Ok((
        design,
        LiveReference::QueueBacklog {
            queues: queues.get(),
        },
    ))
}

impl Args {
    /// `--one-at-a-time` is the original design: one unacknowledged message per consumer.
    fn effective_prefetch(&self) -> u16 {
        if self.one_at_a_time {
            1
        } else {
            self.prefetch
        }
    }
}

/// The consumer's configuration from the flags: queues, engine plan, handler and timer.
fn consumer_config(
    args: &Args,
    plan: Plan,
    lanes: Option<u64>,
    handler: &AnyHandler,
    log: Option<Arc<LiveLog>>,
    live: Option<Live>,
) -> Config {
    let topo = args.queue.topology();
    Config {
        topology: topo.clone(),
        strategy: plan.strategy(),
        lanes,
        prefetch: args.effective_prefetch(),
        one_at_a_time: args.one_at_a_time,
        workload: Workload::with_durations(
            Source::Live(format!(
                "RabbitMQ {} ({}.*)",
                topo.display_url(),
                topo.prefix
            )),
            Durations::PerEvent(Vec::new()),
        ),
        process_time: args.engine.timing.process_time,
        abort: handler.guarded().map(|g| Box::pin(g.aborted()) as Abort),
        handler: Logged {
            inner: handler.clone(),
            log,
            worker: u64::from(std::process::id()),
            skip: None,
            board: None,
        },
        reconnect_timeout: Some(args.reconnect_timeout.as_duration()),
        timer: args.engine.timing.timer,
        live,
        cooperative: true,
    }
}

/// The dashboard's board: open-ended like a server's (events keep coming, no total and no
/// bound until the verified report), its gauges fed by the consumer.
fn board(args: &Args, plan: Plan, lanes: Option<u64>) -> Arc<Board> {
    let topo = args.queue.topology();
    let handler = if args.handlers.handler.is_sleep() {
        format!(
            "sleep (each message's duration_us, else {})",
            args.engine.timing.process_time
        )
    } else {
        args.handlers.handler.to_string()
    };
    let board = Board::default();
    board.describe(Info {
        mode: "worker".into(),
        strategy: plan.strategy().to_string(),
        workers: lanes.map_or("auto".into(), |n| n.to_string()),
        handler,
        input: format!("{} queues {}.*", topo.queues, topo.prefix),
        broker: Some(topo.display_url()),
        lanes,
        ..Info::default()
    });
    Arc::new(board)
}

/// The report with the broker's side (`--json`), the report on stdout, the broker counts on
/// stderr.
fn write_report(args: &Args, report: &Report, s: BrokerStats, owned: &[Ownership]) -> Result<()> {
    let full = WorkerReport {
        report,
        mode: if args.one_at_a_time {
            "one-at-a-time"
        } else {
            "engine"
        },
        queues: args.queue.topology().queues,
        prefetch: args.effective_prefetch(),
        broker: s,
        owned,
    };
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &full)?;
    }
    print_report(report, args.format)?;
    eprintln!(
        "broker: {} events delivered in {} messages, {} redelivered, {} repeated event ids, {} \
         malformed messages, {} events acked in {} messages, {} reconnects ({} events of lost \
         connections dropped unstarted, {} redelivered events not run again: they had finished \
         here); {} events ran twice here",
        s.deliveries,
        s.messages,
        s.redelivered,
        s.repeated,
        s.malformed,
        s.acked,
        s.acked_messages,
        s.reconnects,
        s.abandoned,
        s.skipped_finished,
        report.duplicates
    );
    if !owned.is_empty() {
        eprintln!("queues owned: {}", Ownership::summary(owned));
    }
    Ok(())
}
