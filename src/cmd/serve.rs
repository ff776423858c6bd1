//! `eventbench serve`: flags, runtime, listener and signals around [`crate::intake::run`].

use crate::broker::amqp::{Brokers, QueueType, Topology, DEFAULT_PREFIX};
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
  eventbench serve -s sharded -w 2 --process-time 100ms --fault slow:1:8   # whom account 1 delays
  eventbench serve --max-connections 2000 --header-timeout 5s --body-timeout 5s   # slow clients
  eventbench serve --handler http:http://127.0.0.1:8080/event --retries 3 --dead-letter dead.csv
  eventbench serve --listen 0.0.0.0:3910 --token-file token --tls-cert server.pem \\
    --tls-key server-key.pem    # on a network: HTTPS and a token (docs/SECURITY.md)

  curl -si localhost:3910/api -H 'content-type: application/json' \\
    -d '{\"account_id\": 7, \"event_id\": 1}'
  curl -si localhost:3910/api -d account_id=7 -d event_id=2
  curl -s localhost:3910/metrics
  curl -s localhost:3910/api/stats           # the JSON behind the live dashboard at GET /
  eventbench serve --broker amqp://127.0.0.1:5672/%2f --queues 50   # then: eventbench worker …

With --broker, a 202 means RabbitMQ confirmed the event (persistent, in its account's queue):
a crash of serve after that loses nothing. 503 (with Retry-After) while the broker is
unreachable; an id accepted before is refused with 409, also after a restart on the same
--data-dir (--in-memory: within one serve process).

Status codes of POST /api: 202 accepted; 400 unparseable body (broken JSON or encoding, a
JSON key given twice, a charset other than UTF-8);
415 content type other than JSON or form fields; 422 missing, non-integer or negative field;
409 event_id already accepted (also by an earlier run on the same data dir); 413 body over
64 KiB; 408 body not complete within --body-timeout of its header (the connection is
closed); 503 queue full (with Retry-After), shutting down, or the event could not be written
to disk; 403 cross_site: a browser posted from another site's page (an Origin other than
this server's, or Sec-Fetch-Site: cross-site; --allow-origin lets one in); 401 without the
token of --token-file (every route but GET /healthz); 405 other methods
(with Allow). Every error has a JSON body.
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

SIGINT/SIGTERM: stop accepting, finish every accepted event, verify, print the report. Past
--drain-timeout nothing more starts and events still running are cut off, not waited for:
durable, the unfinished ones stay in the data dir and run again at the next start (the cut-off
ones counted redelivered); --in-memory, they are written to --leftover as an events CSV and
reported as unprocessed. A drain timeout is not a failure: the run is interrupted, exit 0.
Every start compares the data dir's database with its high-water mark (queue.mark, every id
accepted and the last sequence number, synced at least once a second and at shutdown) and runs
PRAGMA quick_check: a database that holds less (a WAL truncated or deleted, a database
truncated) or lost a table is refused with exit 2, saying what is missing, unless
--accept-data-loss: then the missing ids stay refused (409), the report's data_loss records
the gap and the run exits 1.
Exit codes: 0 ok, 1 ordering violated or events given up (unless --allow-failures) or accepted
events lost (--accept-data-loss), 2 bad usage or unusable or damaged data dir, 3 broker
unreachable at start (--broker).")]
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
    /// server on the same directory is refused). With --broker it keeps the accepted ids only
    /// (and their high-water mark), so a 409 holds across restarts
    #[arg(long, default_value = "eventbench-data", conflicts_with = "in_memory")]
    pub data_dir: PathBuf,
    /// Keep accepted events in memory only: faster, but a crash loses them (engine benchmarks)
    #[arg(long)]
    pub in_memory: bool,
    /// Start even when the data dir holds fewer accepted events than its high-water mark
    /// (queue.mark) or its database is damaged: the gap is printed and recorded in the report
    /// (`data_loss`), and the missing ids stay refused with 409. Without it such a start is
    /// refused (exit 2)
    #[arg(long, conflicts_with = "in_memory")]
    pub accept_data_loss: bool,
    /// After a shutdown signal, process only this long, then start nothing more and cut off
    /// the events still running (they are handed back, not lost) [default: until all ran]
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
    /// here (`eventbench worker` does). Broker unreachable: 503 with Retry-After. Repeat it
    /// for the nodes of a cluster: the first that answers is used, a lost connection is
    /// re-opened to the next
    #[arg(long, requires = "queues", conflicts_with_all = [
        "workers", "strategy", "process_time", "max_queued", "log", "drain_timeout", "leftover",
    ], value_name = "URL", value_parser = crate::cli::BrokerUrl)]
    pub broker: Vec<String>,
    /// With --broker: type of the queues declared, classic or quorum (replicated on the
    /// cluster's nodes). A queue that exists with the other type is an error
    #[arg(long, value_enum, default_value_t = QueueType::Classic, requires = "broker")]
    pub queue_type: QueueType,
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
    /// Let web pages of this origin (scheme://host[:port]) post to /api; repeatable. A
    /// browser's request from any other site's page is refused with 403 (see docs/SECURITY.md)
    #[arg(long, value_name = "ORIGIN", value_parser = intake::origin::parse)]
    pub allow_origin: Vec<String>,
    /// Every request but GET /healthz must carry 'Authorization: Bearer <token>' (401
    /// otherwise; the dashboard in a browser: /?token=<token>); the token is the file's first
    /// line
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Serve HTTPS (TLS 1.2/1.3, rustls) with this certificate chain (PEM, the server's own
    /// certificate first); needs --tls-key. The API, /metrics, /healthz and the dashboard are
    /// then reached at https:// only (see docs/SECURITY.md)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub handlers: HandlerArgs,
    /// `slow:` and `stall:` faults (see `run --help`); the report measures the other
    /// accounts against what arrived, run without them on the virtual clock from their
    /// arrivals
    #[command(flatten)]
    pub fault: crate::cli::FaultArgs,
}

pub(crate) fn run(args: Args, _global: &GlobalArgs) -> Result<()> {
    if !args.broker.is_empty() && !args.handlers.handler.is_sleep() {
        return Err(UsageError(
            "serve --broker processes nothing itself; give --handler to `eventbench worker`".into(),
        )
        .into());
    }
    if !args.broker.is_empty() && !args.fault.faults.is_empty() {
        return Err(UsageError(
            "serve --broker processes nothing itself; give --fault to `eventbench worker`".into(),
        )
        .into());
    }
    if !args.broker.is_empty() {
        let brokers = Brokers::new(args.broker.clone());
        return relay(&args, brokers);
    }
    check_flags(&args)?;
    let plan = args.engine.plan()?;
    let lanes = plan.live_lanes()?;
    args.handlers.validate(ClockKind::Real)?;
    let (handler, faults) = super::live_handler(&args.handlers, &args.fault)?;
    let config = server_config(&args, plan.strategy(), lanes, handler)?;
    let mut served = crate::pipeline::live::serve(
        args.listen,
        config,
        plan,
        &args.handlers.handler,
        shutdown_signal,
    )?;
    if !faults.is_empty() {
        let when = crate::pipeline::fault::LiveReference::AsArrived;
        crate::pipeline::fault::fold_live(&faults, &mut served.outcome, plan, when);
    }
    // The log was written as events finished; the JSON waits for the queue fields.
    let (report, _) = Report::from_outcome(served.outcome, None)?;
    write_report(
        &args,
        &report,
        served.refused_connections,
        served.leftover.as_ref(),
    )?;
    report.check()?;
    lost_events(report.queue.as_ref().and_then(|q| q.data_loss.as_ref()))?;
    crate::handler::check_failures(&report, &args.handlers)
}

/// A run that started with `--accept-data-loss` on a data dir that had lost accepted events
/// ran as asked, but it is not a success: exit 1, so no script mistakes it for one.
fn lost_events(loss: Option<&crate::report::DataLoss>) -> Result<()> {
    match loss {
        Some(l) => Err(crate::error::CheckFailed(format!(
            "this run started on a data dir that had lost accepted events (--accept-data-loss): \
             {} of {} accepted ids of {} missing{}",
            l.missing_accepted,
            l.mark_accepted,
            l.mark_file,
            if l.damage.is_empty() {
                String::new()
            } else {
                format!("; {}", l.damage.join("; "))
            }
        ))
        .into()),
        None => Ok(()),
    }
}

/// The server's configuration from the flags; without `--leftover`, events handed back at a
/// drain timeout go to `unprocessed-<unix seconds>.csv`.
fn server_config(
    args: &Args,
    strategy: Strategy,
    lanes: Option<u64>,
    handler: AnyHandler,
) -> Result<Config> {
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
        handler,
        timer: args.engine.timing.timer,
        origins: intake::origin::Origins::new(args.allow_origin.iter().cloned()),
        token: token(args)?,
        accept_data_loss: args.accept_data_loss,
        tls: tls(args)?,
        connections: limits(args),
    })
}

/// The connection limits of both servers (engine and `--broker`).
fn limits(args: &Args) -> Limits {
    Limits {
        header_timeout: args.header_timeout.as_duration(),
        body_timeout: args.body_timeout.as_duration(),
        max_connections: args
            .max_connections
            .map_or_else(Limits::default_max_connections, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
    }
}

/// The certificate and key of `--tls-cert`/`--tls-key`, read and checked before anything
/// listens.
fn tls(args: &Args) -> Result<Option<intake::tls::Tls>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(intake::tls::Tls::load(cert, key)?)),
        _ => Ok(None),
    }
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
            ("--queue-type", args.queue_type != QueueType::Classic),
            ("--channels", args.channels != DEFAULT_CHANNELS),
        ],
    )?;
    check_timeouts(args)?;
    super::check_output_paths([
        args.log.as_deref(),
        args.json.as_deref(),
        args.leftover.as_deref(),
    ])
}

fn check_timeouts(args: &Args) -> Result<()> {
    for (flag, value) in [
        ("--header-timeout", args.header_timeout),
        ("--body-timeout", args.body_timeout),
    ] {
        if value == Micros::ZERO {
            return Err(UsageError(format!("{flag} must be more than 0")).into());
        }
    }
    Ok(())
}

/// The `--token-file` token; without one, a warning when the server listens beyond loopback.
fn token(args: &Args) -> Result<Option<crate::token::Token>> {
    let Some(path) = &args.token_file else {
        if !args.listen.ip().is_loopback() {
            eprintln!(
                "warning: serve listens on {} without --token-file: anyone who can reach it can \
                 post events (see docs/SECURITY.md)",
                args.listen
            );
        }
        return Ok(None);
    };
    Ok(Some(crate::token::Token::read(path)?))
}

/// `serve --broker`: the web API in front of RabbitMQ.
fn relay(args: &Args, brokers: Brokers) -> Result<()> {
    super::check_output_paths([args.json.as_deref()])?;
    check_timeouts(args)?;
    let front = intake::Front {
        origins: intake::origin::Origins::new(args.allow_origin.iter().cloned()),
        token: token(args)?,
        tls: tls(args)?,
        connections: limits(args),
        announce: true,
    };
    let topo = Topology::new(brokers, args.queues.unwrap_or(1), &args.queue_prefix)
        .with_queue_type(args.queue_type);
    let rt = crate::engine::runtime()?;
    let outcome = rt.block_on(async {
        let sink = ConfirmedPublisher::connect(topo, usize::from(args.channels)).await?;
        // The accepted ids live in the data dir, so a 409 holds across restarts.
        let ids = match args.in_memory {
            true => None,
            false => Some(
                intake::accepted_ids::AcceptedIds::open(&args.data_dir, args.accept_data_loss)
                    .map_err(|e| UsageError(format!("cannot use the data dir: {e}")))?,
            ),
        };
        if let Some(loss) = ids.as_ref().and_then(|i| i.data_loss()) {
            eprintln!(
                "eventbench: WARNING: --accept-data-loss: starting on a data dir that lost \
                 accepted ids: {}",
                intake::durable::describe_loss(loss)
            );
        }
        let listener = intake::listen::bind(args.listen)
            .map_err(|e| crate::error::cannot_listen(args.listen, "--listen", e))?;
        intake::run_broker(listener, sink, ids, front, shutdown_signal()).await
    })?;
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &outcome)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        Format::Table => println!(
            "eventbench {} serve --broker: {} events accepted, each confirmed by RabbitMQ {} \
             ({} queues {}.*) before its 202\naccepting   {} from first to last 202 \
             ({:.0} events/s)\nconfirm     p50 {}  p99 {}  max {} (request arrival to \
             broker confirm)\nrefused     {} requests ({} broker unavailable, {} duplicates)",
            outcome.build.label(),
            outcome.accepted,
            outcome.broker,
            outcome.queues,
            outcome.queue_prefix,
            crate::types::seconds(outcome.accept_time_s),
            outcome.accept_rate_eps,
            Micros(outcome.confirm_latency_us.p50),
            Micros(outcome.confirm_latency_us.p99),
            Micros(outcome.confirm_latency_us.max),
            outcome.rejected,
            outcome.broker_unavailable,
            outcome.duplicates
        ),
    }
    lost_events(outcome.data_loss.as_ref())
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
