//! `eventbench run`: process a workload through per-account queues, verify, report.

use crate::broker::amqp::{Brokers, QueueType, Topology, DEFAULT_PREFIX};
use crate::cli::{EngineArgs, FaultArgs, GlobalArgs, RepeatArgs};
use crate::engine::fault::Faults;
use crate::engine::ClockKind;
use crate::handler::HandlerArgs;
use crate::live::{self, Board};
use crate::output::Format;
use crate::pipeline::fault::FaultSpec;
use crate::pipeline::repeat::run_repeated;
use crate::pipeline::{Intake, Spec};
use crate::report::repeat::Repeat;
use crate::report::{print_report, RunInfo};
use crate::web::dashboard::Standalone;
use crate::workload::Workload;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench run                 # built-in workload: 10,000 events, 1,000 accounts, 1 s each
  eventbench run --input events.csv --workers 500 --strategy sharded   # the original PHP design
  eventbench run --clock virtual --strategy optimal --workers 100      # exact schedule, instantly
  eventbench run --process-time 100ms --log log.csv --json report.json
  eventbench generate --events 1000 --output - | eventbench run --input - --clock virtual
  eventbench run --dashboard     # watch it live at http://127.0.0.1:3911/
  eventbench run --broker amqp://127.0.0.1:5672/%2f --queues 50 --dashboard 127.0.0.1:0
  eventbench run --input events.csv --workers 16 \\
      --handler 'exec:./process.sh {account_id} {event_id}' \\
      --retries 3 --retry-backoff 100ms --dead-letter failed.csv   # your own command per event
  eventbench run --input failed.csv --handler 'exec:./process.sh {account_id} {event_id}'  # replay
  eventbench run --workers 64 --handler http:http://127.0.0.1:8080/event --on-failure stop-account
  eventbench run --process-time 100us --timer sleep  # no spinning: less CPU, ends ~50-100 us late
  eventbench run --process-time 20ms --runs 5 --warmup 1   # mean ± σ of 5 measured runs
  eventbench run --clock virtual -s sharded -w 100 --fault slow:311:20  # who waits behind it
  eventbench run --clock virtual -w 16 --fault fail:42 --retries 2 --on-failure stop-account

Exit codes: 0 ok, 1 ordering violated or events given up (unless --allow-failures),
2 bad usage or input, 3 could not complete, 130 interrupted by Ctrl-C (after the partial report).")]
pub struct Args {
    /// Events CSV to process, `-` for standard input [default: standard input
    /// when piped or redirected, else ./events.csv if it exists, else the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub reading: crate::cli::InputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
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
    /// Queue the events in RabbitMQ (amqp://...) instead of in memory. Repeat it for the
    /// nodes of a cluster: the first that answers is used, a lost connection is re-opened to
    /// the next
    #[arg(long, value_name = "URL", requires = "queues", conflicts_with = "clock",
          value_parser = crate::cli::BrokerUrl)]
    pub broker: Vec<String>,
    #[arg(long, value_enum, default_value_t = QueueType::Classic, requires = "broker",
          help = crate::cli::QUEUE_TYPE_HELP)]
    pub queue_type: QueueType,
    /// Number of RabbitMQ queues (eventbench.0 .. eventbench.N-1) with --broker
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), requires = "broker")]
    pub queues: Option<u32>,
    /// Queue name prefix with --broker (queues are PREFIX.0 .. PREFIX.N-1)
    #[arg(long, default_value = crate::broker::amqp::DEFAULT_PREFIX, requires = "broker")]
    pub queue_prefix: String,
    /// Events per RabbitMQ message with --broker (consecutive events of one queue, a JSON
    /// array); 1 sends one event per message, as the original system did. Larger than
    /// `publish`'s default: this process alone consumes them, so a crash re-runs nothing elsewhere
    #[arg(long, default_value_t = crate::broker::publish::IN_PROCESS_BATCH,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Serve a live dashboard of this real-clock run at ADDR [default: 127.0.0.1:3911]
    /// (port 0: any free port; the address is printed). JSON for scripts: GET /api/stats.
    /// With --ingest http the in-process server listens there and shows its own dashboard
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::web::dashboard::DEFAULT_ADDR)]
    #[arg(value_parser = crate::cli::parse_listen)]
    pub dashboard: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub handlers: HandlerArgs,
    #[command(flatten)]
    pub fault: FaultArgs,
    #[command(flatten)]
    pub repeat: RepeatArgs,
}

/// Ways to bring events into the engine besides loading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ingest {
    /// POST each event to an in-process `serve` over loopback HTTP.
    Http,
}

/// The flag combinations clap cannot judge, refused before the workload is read.
fn check_flags(args: &Args) -> Result<()> {
    args.handlers
        .validate_with(args.clock, args.fault.has_fail())?;
    let real_handler = !args.handlers.handler.is_sleep();
    super::check_fault_flags(
        &args.fault,
        &[
            ("--handler exec:/http:", real_handler),
            ("--ingest", args.ingest.is_some()),
            ("--broker", !args.broker.is_empty()),
        ],
    )?;
    if real_handler && (args.ingest.is_some() || !args.broker.is_empty()) {
        return Err(crate::error::UsageError(
            "--handler exec:/http: runs in memory here; with --ingest or --broker use `serve \
             --handler` or `worker --handler`"
                .into(),
        )
        .into());
    }
    super::check_broker_only(
        args.broker.first().map(String::as_str),
        &[
            ("--queues", args.queues.is_some()),
            ("--queue-prefix", args.queue_prefix != DEFAULT_PREFIX),
            ("--queue-type", args.queue_type != QueueType::Classic),
            (
                "--batch",
                args.batch != crate::broker::publish::IN_PROCESS_BATCH,
            ),
        ],
    )?;
    let repeat = args.repeat.repeat(args.clock)?;
    if args.dashboard.is_some() && repeat != Repeat::ONCE {
        return Err(crate::error::UsageError(
            "--dashboard watches one run; leave out --runs/--warmup to watch it".into(),
        )
        .into());
    }
    if args.dashboard.is_some() && args.clock == ClockKind::Virtual {
        return Err(crate::error::UsageError(
            "--dashboard watches a real-clock run; a virtual-clock run ends at once".into(),
        )
        .into());
    }
    super::check_output_paths([args.log.as_deref(), args.json.as_deref()])
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let plan = args.engine.plan()?;
    check_flags(&args)?;
    let faults = args.fault.faults()?;
    let workload = super::load_workload(
        args.input.as_deref(),
        args.engine.timing.process_time,
        global.quiet,
        args.reading,
    )?;
    let info = RunInfo {
        plan,
        clock: args.clock,
    };
    if !global.quiet {
        announce(&workload, info, &args.handlers, &faults);
    }
    let fault_spec = (!faults.is_empty()).then_some(FaultSpec {
        faults: &faults,
        model: args.handlers.fail_model(),
    });
    let dashboard = match (args.dashboard, args.ingest) {
        (Some(addr), None) => {
            let real =
                (!args.handlers.handler.is_sleep()).then(|| args.handlers.handler.to_string());
            // The board's bound and expected time are those of the workload the run will
            // process: with the faults laid on.
            let faulted = fault_spec
                .map(|f| crate::pipeline::fault::faulted(f, &workload))
                .transpose()?;
            let board = live::run_board(faulted.as_ref().unwrap_or(&workload), plan, real);
            if let Some(topo) = topology(&args) {
                board.amend(|i| i.broker = Some(topo.display_url()));
            }
            Some(Standalone::start(addr, board)?)
        }
        _ => None,
    };
    let board = dashboard.as_ref().map(|d| Arc::clone(d.board()));
    let repeat = args.repeat.repeat(args.clock)?;
    let finished = run_repeated(repeat, workload, args.log.as_deref(), global.quiet, || {
        Spec {
            plan,
            clock: args.clock,
            timer: args.engine.timing.timer,
            intake: intake(&args, board.clone()),
            quiet: global.quiet,
            faults: fault_spec,
        }
    })?;
    let report = finished.report;
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &report)?;
    }
    crate::handler::write_dead_letters(&args.handlers, &finished.dead_letters)?;
    if let Some(d) = dashboard {
        d.complete(&report);
    }
    print_report(&report, args.format)?;
    report.check()?;
    crate::handler::check_failures(&report, &args.handlers)?;
    if report.interrupted {
        return Err(crate::error::Interrupted::Events(report.unprocessed).into());
    }
    Ok(())
}

/// The RabbitMQ queues of `--broker`, if given.
fn topology(args: &Args) -> Option<Topology> {
    if args.broker.is_empty() {
        return None;
    }
    let queues = args.queues.expect("clap requires --queues with --broker");
    let brokers = Brokers::new(args.broker.clone());
    Some(Topology::new(brokers, queues, &args.queue_prefix).with_queue_type(args.queue_type))
}

/// Where the flags queue the events: the web API, RabbitMQ, or memory (with a real handler or
/// the engine's sleep), watched by the dashboard's `board` if any.
fn intake(args: &Args, board: Option<Arc<Board>>) -> Intake<'_> {
    if let Some(Ingest::Http) = args.ingest {
        return Intake::Http {
            dashboard: args.dashboard,
        };
    }
    if let Some(topology) = topology(args) {
        return Intake::Broker {
            topology,
            batch: args.batch,
            board,
        };
    }
    Intake::Memory {
        handler: (!args.handlers.handler.is_sleep()).then_some(&args.handlers),
        board,
    }
}

/// One stderr line before the work starts: what runs, and how long it cannot beat.
fn announce(w: &Workload, info: RunInfo, h: &HandlerArgs, faults: &Faults) {
    if w.is_empty() {
        eprintln!(
            "input: {} has no events: nothing to process (the report below is empty)",
            w.source()
        );
        return;
    }
    let shape = w.shape();
    if !h.handler.is_sleep() {
        eprintln!(
            "input: {}: {} events, {} accounts; {} strategy, {} workers; handler {} \
             (lower bound from the measured handler times)",
            w.source(),
            shape.events,
            shape.accounts,
            info.plan.strategy(),
            info.plan.workers(),
            h.handler
        );
        return;
    }
    let bound = crate::engine::bound::lower_bound(&shape, info.plan.lanes(shape.accounts));
    // The faults add work: the report's bound is that of the faulted workload.
    let faulted = if faults.is_empty() {
        String::new()
    } else {
        " without the faults".to_string()
    };
    eprintln!(
        "input: {}: {} events, {} accounts; {} strategy, {} workers, {} clock; lower bound \
         {bound}{faulted}",
        w.source(),
        shape.events,
        shape.accounts,
        info.plan.strategy(),
        info.plan.workers(),
        info.clock,
    );
}
