//! The HTTP intake: one router ([`api`]) in front of a target chosen at start. `POST /api`
//! feeds the live engine (in memory, or on disk first: [`durable`], so a crash loses no
//! accepted event) or, with `serve --broker`, RabbitMQ ([`broker`]); `GET /metrics` and
//! `GET /healthz` watch it, and a shutdown drains it without losing an accepted event.
//!
//! [`run`] (and [`run_broker`]) take a bound listener and a shutdown future (as in tokio's
//! mini-redis), so the binary wires real signals and a real port while tests inject port 0 and
//! a channel.

pub(crate) mod accepted_ids;
pub(crate) mod admit;
pub(crate) mod api;
pub(crate) mod broker;
pub(crate) mod committer;
mod drain;
pub(crate) mod durable;
pub(crate) mod gate;
pub(crate) mod listen;
pub(crate) mod mark;
pub(crate) mod metrics;
pub(crate) mod origin;
pub(crate) mod parse;
pub(crate) mod processing;
pub(crate) mod store;
pub(crate) mod tls;

use crate::engine::clock::PreciseClock;
use crate::engine::real::{Engine, Observer};
use crate::engine::record::Execution;
use crate::engine::timer::{TimerMode, TimerThread};
use crate::engine::{ClockKind, Strategy};
use crate::error::UsageError;
use crate::handler::AnyHandler;
use crate::live_log::LiveLog;
use crate::types::Micros;
use crate::workload::{Durations, Source, Workload};
use admit::{Intake, Storage};
use anyhow::{Context, Result};
use broker::{Relay, RelayOutcome};
use drain::drain;
use durable::{Durable, DurableInfo};
use processing::{Arrivals, LiveEngine, ServeHandler};
use rangemap::RangeInclusiveSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a server runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub strategy: Strategy,
    /// Most events in flight; `None`: one lane per account (see [`crate::engine::Plan::live_lanes`]).
    pub lanes: Option<u64>,
    /// Processing time of events that do not carry their own `duration_us`.
    pub process_time: Micros,
    /// Honour a `duration_us` field per event (the report then shows per-event durations).
    pub per_event_durations: bool,
    /// Refuse new events with 503 while this many are waiting to start.
    pub max_queued: Option<u64>,
    /// After shutdown, how long to keep starting queued events; `None`: until all have run.
    pub drain_timeout: Option<Duration>,
    /// Where events not finished by the drain timeout (never started, or cut off while they
    /// ran) are written, in memory mode.
    pub leftover: PathBuf,
    /// The durable queue's directory; `None`: events are kept in memory only.
    pub data_dir: Option<PathBuf>,
    /// The processed log, appended and flushed per event.
    pub log: Option<PathBuf>,
    /// Print the address and configuration to stderr on startup.
    pub announce: bool,
    /// Header deadline and connection cap, so slow clients cannot hold the server.
    pub connections: listen::Limits,
    /// What processing an event means (`--handler`).
    pub handler: AnyHandler,
    /// How the engine's sleeps end (`--timer`).
    pub timer: TimerMode,
    /// Web pages of other origins that may post (`--allow-origin`).
    pub origins: origin::Origins,
    /// The token every request but `GET /healthz` must carry (`--token-file`).
    pub token: Option<crate::token::Token>,
    /// Start on a data dir that holds less than its high-water mark, or is damaged, and
    /// report the gap, instead of refusing (`--accept-data-loss`).
    pub accept_data_loss: bool,
    /// Serve HTTPS with this certificate (`--tls-cert`, `--tls-key`); `None`: plain HTTP.
    pub tls: Option<tls::Tls>,
}

/// What a server that has shut down hands back.
pub struct ServeOutcome {
    pub addr: SocketAddr,
    /// Every accepted event, in server arrival order.
    pub workload: Workload,
    pub execution: Execution,
    /// Events accepted but not finished by the drain timeout, written to `Config::leftover`.
    pub leftover: Option<Leftover>,
    /// Requests refused, all reasons together.
    pub rejected: u64,
    /// Connections closed unread because `--max-connections` were open.
    pub refused_connections: u64,
    /// The durable queue's account of the run; `None` in memory mode.
    pub durable: Option<DurableInfo>,
}

/// The hand-back file of a drain that timed out.
#[derive(Clone, Debug)]
pub struct Leftover {
    pub path: PathBuf,
    pub events: usize,
}

/// Serves until `shutdown` completes, then drains and returns what happened.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<ServeOutcome> {
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let timer = TimerThread::with_mode(config.timer).context("cannot start the timer thread")?;
    let clock = PreciseClock::new(timer.handle());
    let scheme = scheme(config.tls.as_ref());
    let source = Source::Live(format!("{scheme}://{addr}/api"));
    let workload = if config.per_event_durations {
        Workload::with_durations(source, Durations::PerEvent(Vec::new()))
    } else {
        Workload::new(source, config.process_time)
    };
    let arrivals = Arc::new(Arrivals::new(clock.clone()));
    let log = match &config.log {
        Some(path) => Some(Arc::new(
            LiveLog::open(path).map_err(|e| UsageError(format!("{e:#}")))?,
        )),
        None => None,
    };
    let (workload, storage, accepted, committer) = open_storage(&config, workload, &arrivals)?;
    let durable = match &storage {
        Storage::Durable(d) => Some(Arc::clone(d)),
        Storage::Memory => None,
    };
    let engine = start_engine(&config, workload, clock, &arrivals, durable.as_ref(), log);
    let intake = Arc::new(Intake::new(
        engine.clone(),
        arrivals,
        storage,
        accepted,
        config.max_queued,
        config.process_time,
        config.per_event_durations,
    ));
    let board = Arc::clone(intake.live());
    watch_live(&board, &intake, &config, addr);
    let sampler = tokio::spawn(crate::live::sample_forever(Arc::clone(&board)));
    if config.announce {
        announce(addr, &config, durable.as_ref().map(|d| d.info()));
    }
    let closing = Arc::clone(&intake);
    let signal = async move {
        shutdown.await;
        closing.begin_shutdown();
        closing.live().draining();
    };
    let target = api::Target::Engine(Arc::clone(&intake));
    let origins = config.origins.clone().scheme(scheme);
    let router = api::router(target.clone(), origins).merge(crate::web::dashboard::routes(board));
    let router = api::guarded(router, target, config.token.clone());
    let refused_connections = listen::serve(
        listener,
        router,
        config.connections,
        config.tls.clone(),
        signal,
    )
    .await;
    sampler.abort();
    // The listener is closed and every request answered, so nothing can arrive any more.
    let leftover = drain(&engine, &config, durable.is_some()).await?;
    let rejected = intake.metrics().rejected_total();
    let durable_info = durable.as_ref().map(|d| d.info().clone());
    drop(intake);
    close_durable(durable.as_deref(), committer);
    let (workload, mut execution) = engine.finish(ClockKind::Real);
    execution.timer = Some(config.timer);
    drop(timer);
    Ok(ServeOutcome {
        addr,
        workload,
        execution,
        leftover,
        rejected,
        refused_connections,
        durable: durable_info,
    })
}

/// How the web API of `serve --broker` meets its clients.
pub(crate) struct Front {
    pub origins: origin::Origins,
    pub token: Option<crate::token::Token>,
    pub tls: Option<tls::Tls>,
    /// The same header and body deadlines and connection cap as the engine's server.
    pub connections: listen::Limits,
    pub announce: bool,
}

/// `serve --broker`: serves until `shutdown` completes, every accepted event confirmed by
/// RabbitMQ; in-flight requests get their answer before it returns.
pub(crate) async fn run_broker(
    listener: tokio::net::TcpListener,
    sink: Arc<crate::broker::confirm::ConfirmedPublisher>,
    ids: Option<accepted_ids::AcceptedIds>,
    front: Front,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RelayOutcome> {
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let relay = Arc::new(Relay::new(Arc::clone(&sink), ids));
    let scheme = scheme(front.tls.as_ref());
    if front.announce {
        let t = sink.topology();
        eprintln!(
            "eventbench serve listening on {scheme}://{addr} (POST /api, GET /metrics, GET /healthz)"
        );
        eprintln!(
            "  broker mode: each accepted event is confirmed by RabbitMQ at {} ({} queues {}.*) \
             before 202; workers process",
            t.display_url(),
            t.queues,
            t.prefix
        );
        announce_limits(&front.connections);
    }
    let closing = Arc::clone(&relay);
    let signal = async move {
        shutdown.await;
        closing.begin_shutdown();
    };
    let target = api::Target::Broker(Arc::clone(&relay));
    let router = api::router(target.clone(), front.origins.scheme(scheme));
    let router = api::guarded(router, target, front.token);
    let refused = listen::serve(listener, router, front.connections, front.tls, signal).await;
    if refused > 0 {
        eprintln!("{refused} connections were refused (503) while --max-connections were open");
    }
    // Every request was answered, so every confirm was awaited: the connection may go.
    sink.close().await;
    relay.close_ids()?;
    Ok(relay.outcome())
}

/// `https` with a certificate, else `http`: what the addresses printed and judged start with.
fn scheme(tls: Option<&tls::Tls>) -> &'static str {
    if tls.is_some() {
        "https"
    } else {
        "http"
    }
}

/// Starts the engine: each finished event is reported to the arrival tracker and, when
/// durable, marked done in the store; the durable queue hands it the events it resumes.
fn start_engine(
    config: &Config,
    workload: Workload,
    clock: PreciseClock,
    arrivals: &Arc<Arrivals>,
    durable: Option<&Arc<Durable>>,
    log: Option<Arc<LiveLog>>,
) -> LiveEngine {
    let watcher = Arc::clone(arrivals);
    let marker = durable.cloned();
    let observer: Observer = Arc::new(move |job| {
        watcher.finished(job);
        if let Some(d) = &marker {
            d.finished(job);
        }
    });
    let handler = ServeHandler {
        inner: config.handler.clone(),
        durable: durable.cloned(),
        log,
    };
    let engine = Engine::start(
        workload,
        config.strategy,
        config.lanes,
        handler,
        clock,
        Some(observer),
    );
    if let Some(d) = durable {
        d.attach(processing::enqueue_into(
            engine.clone(),
            Arc::clone(arrivals),
        ));
    }
    engine
}

/// Describes the server to its dashboard, whose gauges are the engine's own counters.
fn watch_live(board: &crate::live::Board, intake: &Arc<Intake>, c: &Config, addr: SocketAddr) {
    board.describe(crate::live::Info {
        mode: "serve".into(),
        strategy: c.strategy.to_string(),
        workers: c.lanes.map_or("auto".into(), |n| n.to_string()),
        // The board names the handler that really runs, not the sleep it replaced.
        handler: match c.handler.guarded() {
            Some(g) => g.describe(),
            None if c.per_event_durations => "sleep (per-event durations)".into(),
            None => format!("sleep {}", c.process_time),
        },
        input: format!("{}://{addr}/api", scheme(c.tls.as_ref())),
        lanes: c.lanes,
        data_dir: c.data_dir.as_ref().map(|d| d.display().to_string()),
        ..crate::live::Info::default()
    });
    // Weak: the board lives inside the intake, and a strong reference would be a cycle.
    let weak = Arc::downgrade(intake);
    board.count_with(Box::new(move || {
        let Some(intake) = weak.upgrade() else {
            return crate::live::Counts::default();
        };
        let c = intake.engine().counters();
        crate::live::Counts {
            accepted: c.arrived.load(std::sync::atomic::Ordering::Relaxed),
            queued: c.queued(),
            in_flight: c.in_flight.load(std::sync::atomic::Ordering::Relaxed),
            processed: c.finished.load(std::sync::atomic::Ordering::Relaxed),
            rejected: Some(intake.metrics().rejected_total()),
        }
    }));
    board.begin();
}

/// Where admitted events are kept: in memory, or in the data dir first (opened here, its
/// unfinished events loaded into `workload`, arrived at time 0). Also the ids that must stay
/// refused.
fn open_storage(
    config: &Config,
    workload: Workload,
    arrivals: &Arrivals,
) -> Result<(
    Workload,
    Storage,
    RangeInclusiveSet<u64>,
    Option<durable::Threads>,
)> {
    let Some(dir) = &config.data_dir else {
        return Ok((workload, Storage::Memory, RangeInclusiveSet::new(), None));
    };
    let opened = Durable::open(
        dir,
        workload,
        config.per_event_durations,
        config.process_time,
        config.accept_data_loss,
    )
    .map_err(|e| UsageError(format!("cannot use the durable queue: {e}")))?;
    if let Some(loss) = opened.durable.data_loss() {
        eprintln!(
            "eventbench: WARNING: --accept-data-loss: starting on a data dir that lost accepted \
             events: {}",
            durable::describe_loss(loss)
        );
    }
    for _ in 0..opened.durable.info().resumed {
        arrivals.arrive(Micros::ZERO);
    }
    let storage = Storage::Durable(Arc::clone(&opened.durable));
    Ok((
        opened.workload,
        storage,
        opened.accepted,
        Some(opened.thread),
    ))
}

/// Lets the committer write the last finish marks and stop. Losing them would only mean those
/// events run again at the next start, so a failure is reported, not fatal.
fn close_durable(durable: Option<&Durable>, committer: Option<durable::Threads>) {
    if let Some(d) = durable {
        d.close();
    }
    if let Some(thread) = committer {
        if let Err(e) = thread.join() {
            eprintln!("eventbench: the durable queue did not close cleanly: {e}");
        }
    }
}

fn announce(addr: SocketAddr, c: &Config, durable: Option<&DurableInfo>) {
    if let Some(d) = durable {
        // First, so a fresh run that meets an old data dir's state (409s for a repeated
        // workload, events resumed) is told so before anything else.
        let dir = d.data_dir.display().to_string();
        let dir = if d.data_dir.is_relative() && !dir.starts_with('.') {
            format!("./{dir}")
        } else {
            dir
        };
        eprintln!(
            "data dir {dir}: {} events already accepted, {} unfinished{}",
            d.accepted_before,
            d.resumed,
            if d.accepted_before > 0 {
                format!(
                    " (a send of those ids is answered 409; to start clean, stop and rm -rf \
                     {dir}, or use --data-dir $(mktemp -d))"
                )
            } else {
                String::new()
            }
        );
    }
    let lanes = c
        .lanes
        .map_or("auto (one per account)".to_string(), |n| n.to_string());
    let max_queued = c
        .max_queued
        .map_or("unlimited".to_string(), |n| n.to_string());
    let drain = c
        .drain_timeout
        .map_or("none (finish every event)".to_string(), |d| {
            Micros::from_duration(d).to_string()
        });
    let scheme = scheme(c.tls.as_ref());
    eprintln!(
        "eventbench serve listening on {scheme}://{addr} (POST /api, GET /metrics, GET /healthz); \
         live dashboard: {scheme}://{addr}/"
    );
    eprintln!(
        "  strategy {}, workers {lanes}, process time {}, max queued {max_queued}, drain timeout {drain}",
        c.strategy, c.process_time
    );
    announce_limits(&c.connections);
    match durable {
        None => eprintln!(
            "  queue in memory (--in-memory): accepted events are lost if the process dies"
        ),
        Some(d) => eprintln!(
            "  durable queue in {} (202 = on disk); resumed {} unfinished events ({} redelivered)",
            d.data_dir.display(),
            d.resumed,
            d.redelivered
        ),
    }
}

fn announce_limits(l: &listen::Limits) {
    eprintln!(
        "  at most {} connections, each closed when no complete request header arrives within {} \
         (body timeout {}: 408)",
        l.max_connections,
        Micros::from_duration(l.header_timeout),
        Micros::from_duration(l.body_timeout)
    );
}
