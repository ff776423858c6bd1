//! `eventbench serve`: flags, runtime, listener and signals around [`crate::intake::run`].

use crate::broker::amqp::{Topology, DEFAULT_PREFIX};
use crate::broker::confirm::ConfirmedPublisher;
use crate::cli::{EngineArgs, GlobalArgs};
use crate::engine::{ClockKind, Strategy};
use crate::error::UsageError;
use crate::handler::{AnyHandler, HandlerArgs};
use crate::intake::listen::Limits;
use crate::intake::{self, Config};
use crate::output::Format;
use crate::report::{print_report, Report};
use crate::types::Micros;
use anyhow::Result;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Confirm-mode channels of `serve --broker` unless `--channels` says otherwise.
const DEFAULT_CHANNELS: u16 = 8;

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench serve                           # 127.0.0.1:3910, durable queue in ./eventbench-data
  eventbench serve --data-dir /var/lib/eventbench --log processed.csv
  eventbench serve --in-memory --listen 127.0.0.1:0 --process-time 10ms --max-queued 100000
  eventbench serve --workers 500 --strategy sharded --drain-timeout 30s
  eventbench serve --process-time 100us --timer sleep   # no spinning: less CPU, ends ~70 us late
  eventbench serve --max-connections 2000 --header-timeout 5s --body-timeout 5s   # slow clients
  eventbench serve --handler http:http://127.0.0.1:8080/event --retries 3 --dead-letter dead.csv

  curl -si localhost:3910/api -H 'content-type: application/json' \\
    -d '{\"account_id\": 7, \"event_id\": 1}'
  curl -si localhost:3910/api -d account_id=7 -d event_id=2
  curl -s localhost:3910/metrics
  curl -s localhost:3910/api/stats           # the JSON behind the live dashboard at GET /
  eventbench serve --broker amqp://127.0.0.1:5672/%2f --queues 50   # then: eventbench worker …

With --broker, a 202 means RabbitMQ confirmed the event (persistent, in its account's queue):
a crash of serve after that loses nothing. 503 (with Retry-After) while the broker is
unreachable; duplicates are refused with 409 within one serve process.

Status codes of POST /api: 202 accepted; 400 unparseable body (broken JSON or encoding, a
JSON key given twice, a charset other than UTF-8);
415 content type other than JSON or form fields; 422 missing, non-integer or negative field;
409 event_id already accepted (also by an earlier run on the same data dir); 413 body over
64 KiB; 408 body not complete within --body-timeout of its header (the connection is
closed); 503 queue full (with Retry-After), shutting down, or the event could not be written
to disk; 405 other methods (with Allow). Every error has a JSON body.
Beyond --max-connections a new connection gets 503 too_many_connections and is closed; a
connection is closed when no complete request header arrives within --header-timeout (also
while it idles between keep-alive requests). A shutdown waits for the requests being processed,
never for a client still sending: a body in progress at SIGTERM gets 503 shutting_down.

What a 202 promises (durable, the default): the event is in the data dir and synced to disk
(fsync, one sync per group of requests), and it is processed even if the server is killed
right after: a restart on the same --data-dir runs the unfinished events first, each account
in its order, before newer events of that account. An event whose processing was cut off runs
again (at-least-once) and is counted as `redelivered`. Finished events are deleted, so the
data dir stays a few kB however many events went through. --in-memory: a 202 only means
queued in this process.

With --handler, an event finishes (and leaves the data dir) only once its handler succeeded or
its dead-letter row was synced to --dead-letter. --on-failure abort stops accepting (as a
signal does) and dead-letters every accepted event that has not started.

SIGINT/SIGTERM: stop accepting, finish every accepted event (past --drain-timeout: start no
more; durable: the unstarted ones stay in the data dir; --in-memory: they are written to
--leftover as an events CSV), verify, print the report.
Exit codes: 0 ok, 1 ordering violated or events given up (unless --allow-failures), 2 bad usage
or unusable data dir, 3 broker unreachable at start (--broker).")]
pub struct Args {
    /// Address to listen on, IP:PORT or HOST:PORT (localhost: the loopback address; port 0:
    /// any free port; the real one is printed)
    #[arg(long, default_value = "127.0.0.1:3910", value_parser = crate::cli::parse_listen)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Answer 503 (with Retry-After) while this many events wait to start [default: unlimited]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_queued: Option<u64>,
    /// Append every processed event (account_id,event_id,worker,start_us,end_us) to this CSV
    /// as it finishes, written through per event (survives a kill); times count from this
    /// process's start
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Where the durable queue lives (created if missing; locked while in use, so a second
    /// server on the same directory is refused)
    #[arg(long, default_value = "eventbench-data", conflicts_with = "in_memory")]
    pub data_dir: PathBuf,
    /// Keep accepted events in memory only: faster, but a crash loses them (engine benchmarks)
    #[arg(long)]
    pub in_memory: bool,
    /// After a shutdown signal, start queued events only this long [default: until all ran]
    #[arg(long)]
    pub drain_timeout: Option<Micros>,
    /// With --in-memory: where the events not started before the drain timeout go (an events
    /// CSV for `run`) [default: unprocessed-<unix time>.csv]
    #[arg(long)]
    pub leftover: Option<PathBuf>,
    /// Write the report as JSON to this file at shutdown
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Close a connection that has not sent a complete request header this long after it
    /// opened or after its last response (slow or idle clients), e.g. 10s, 500ms
    #[arg(long, default_value = "10s")]
    pub header_timeout: Micros,
    /// Answer 408 and close the connection when a request's whole body has not arrived this
    /// long after its header (clients that stall mid-body), e.g. 10s, 500ms
    #[arg(long, default_value = "10s")]
    pub body_timeout: Micros,
    /// Most connections open at once; more get a 503 and are closed [default: the open-file
    /// limit minus 128]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// RabbitMQ in front of the workers: publish every accepted event (persistent) to its
    /// account's queue and answer 202 only after the broker confirmed it; process nothing
    /// here (`eventbench worker` does). Broker unreachable: 503 with Retry-After
    #[arg(long, requires = "queues", conflicts_with_all = [
        "workers", "strategy", "process_time", "max_queued", "log", "drain_timeout", "leftover",
        "header_timeout", "body_timeout", "max_connections", "data_dir", "in_memory",
    ], value_parser = crate::cli::BrokerUrl)]
    pub broker: Option<String>,
    /// With --broker: queues PREFIX.0 .. PREFIX.N-1, account_id % N (the same as `publish`)
    #[arg(long, requires = "broker", value_parser = clap::value_parser!(u32).range(1..))]
    pub queues: Option<u32>,
    /// With --broker: queue name prefix
    #[arg(long, requires = "broker", default_value = crate::broker::amqp::DEFAULT_PREFIX)]
    pub queue_prefix: String,
    /// With --broker: confirm-mode channels publishing side by side (an account's events
    /// always share one, so their order holds)
    #[arg(long, requires = "broker", default_value_t = DEFAULT_CHANNELS,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub channels: u16,
    #[command(flatten)]
    pub handlers: HandlerArgs,
}

pub(crate) fn run(args: Args, _global: &GlobalArgs) -> Result<()> {
    if args.broker.is_some() && !args.handlers.handler.is_sleep() {
        return Err(UsageError(
            "serve --broker processes nothing itself; give --handler to `eventbench worker`".into(),
        )
        .into());
    }
    if let Some(url) = &args.broker {
        return relay(&args, url);
    }
    check_flags(&args)?;
    let plan = args.engine.plan()?;
    let lanes = plan.live_lanes()?;
    args.handlers.validate(ClockKind::Real)?;
    let config = server_config(&args, plan.strategy(), lanes)?;
    let served = crate::pipeline::live::serve(
        args.listen,
        config,
        plan,
        &args.handlers.handler,
        shutdown_signal,
    )?;
    // The log was written as events finished; the JSON waits for the queue fields.
    let (report, _) = Report::from_outcome(served.outcome, None)?;
    write_report(
        &args,
        &report,
        served.refused_connections,
        served.leftover.as_ref(),
    )?;
    report.check()?;
    crate::handler::check_failures(&report, &args.handlers)
}

/// The server's configuration from the flags; without `--leftover`, events handed back at a
/// drain timeout go to `unprocessed-<unix seconds>.csv`.
fn server_config(args: &Args, strategy: Strategy, lanes: Option<u64>) -> Result<Config> {
    let leftover = args.leftover.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from(format!("unprocessed-{now}.csv"))
    });
    Ok(Config {
        strategy,
        lanes,
        process_time: args.engine.timing.process_time,
        per_event_durations: false,
        max_queued: args.max_queued,
        drain_timeout: args.drain_timeout.map(Micros::as_duration),
        leftover,
        data_dir: (!args.in_memory).then(|| args.data_dir.clone()),
        log: args.log.clone(),
        announce: true,
        handler: AnyHandler::live(&args.handlers)?,
        timer: args.engine.timing.timer,
        connections: Limits {
            header_timeout: args.header_timeout.as_duration(),
            body_timeout: args.body_timeout.as_duration(),
            max_connections: args
                .max_connections
                .map_or_else(Limits::default_max_connections, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
        },
    })
}

/// `--json`, the report on stdout, and what the server turned away or handed back.
fn write_report(
    args: &Args,
    report: &Report,
    refused_connections: u64,
    leftover: Option<&intake::Leftover>,
) -> Result<()> {
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, report)?;
    }
    print_report(report, args.format)?;
    if refused_connections > 0 {
        eprintln!(
            "{} connections were refused (503) while --max-connections were open",
            refused_connections
        );
    }
    if let Some(l) = leftover {
        eprintln!(
            "{} accepted events were handed back in {}",
            l.events,
            l.path.display()
        );
    }
    Ok(())
}

/// The checks of an in-process `serve` that clap cannot express, before anything listens.
fn check_flags(args: &Args) -> Result<()> {
    super::check_broker_only(
        None,
        &[
            ("--queues", args.queues.is_some()),
            ("--queue-prefix", args.queue_prefix != DEFAULT_PREFIX),
            ("--channels", args.channels != DEFAULT_CHANNELS),
        ],
    )?;
    for (flag, value) in [
        ("--header-timeout", args.header_timeout),
        ("--body-timeout", args.body_timeout),
    ] {
        if value == Micros::ZERO {
            return Err(UsageError(format!("{flag} must be more than 0")).into());
        }
    }
    super::check_output_paths([
        args.log.as_deref(),
        args.json.as_deref(),
        args.leftover.as_deref(),
    ])
}

/// `serve --broker`: the web API in front of RabbitMQ.
fn relay(args: &Args, url: &str) -> Result<()> {
    super::check_output_paths([args.json.as_deref()])?;
    let topo = Topology::new(url, args.queues.unwrap_or(1), &args.queue_prefix);
    let rt = crate::engine::runtime()?;
    let outcome = rt.block_on(async {
        let sink = ConfirmedPublisher::connect(topo, usize::from(args.channels)).await?;
        let listener = intake::listen::bind(args.listen)
            .map_err(|e| crate::error::cannot_listen(args.listen, "--listen", e))?;
        intake::run_broker(listener, sink, true, shutdown_signal()).await
    })?;
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &outcome)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        Format::Table => println!(
            "eventbench {} serve --broker: {} events accepted, each confirmed by RabbitMQ {} \
             ({} queues {}.*) before its 202\naccepting   {:.3}s from first to last 202 \
             ({:.0} events/s)\nconfirm     p50 {}us  p99 {}us  max {}us (request arrival to \
             broker confirm)\nrefused     {} requests ({} broker unavailable, {} duplicates)",
            outcome.build.label(),
            outcome.accepted,
            outcome.broker,
            outcome.queues,
            outcome.queue_prefix,
            outcome.accept_time_s,
            outcome.accept_rate_eps,
            outcome.confirm_latency_us.p50,
            outcome.confirm_latency_us.p99,
            outcome.confirm_latency_us.max,
            outcome.rejected,
            outcome.broker_unavailable,
            outcome.duplicates
        ),
    }
    Ok(())
}

/// Completes on the first SIGINT or SIGTERM; the handlers are installed by this call (see
/// [`crate::shutdown::signal`]).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let signal = crate::shutdown::signal();
    async move {
        signal.await;
        eprintln!("shutting down: no new events; finishing the accepted ones");
    }
}
