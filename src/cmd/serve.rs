//! `eventbench serve`: flags, runtime, listener and signals around [`crate::server::run`].

use crate::cli::GlobalArgs;
use crate::engine::{ClockKind, Plan, Strategy, Workers};
use crate::error::UsageError;
use crate::output::{print_report, Format};
use crate::report::{finish_run, RunInfo};
use crate::server::listen::Limits;
use crate::server::{self, Config};
use crate::types::Micros;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench serve                                  # 127.0.0.1:3910, optimal strategy, 1 s per event
  eventbench serve --listen 127.0.0.1:0 --process-time 10ms --max-queued 100000
  eventbench serve --workers 500 --strategy sharded --log log.csv --drain-timeout 30s
  eventbench serve --max-connections 2000 --header-timeout 5s   # many clients, some slow

  curl -si localhost:3910/api -H 'content-type: application/json' -d '{\"account_id\": 7, \"event_id\": 1}'
  curl -si localhost:3910/api -d account_id=7 -d event_id=2
  curl -s localhost:3910/metrics
  curl -s localhost:3910/api/stats                  # what the live dashboard at http://localhost:3910/ shows

Status codes of POST /api: 202 accepted; 400 unparseable body (broken JSON or encoding);
415 content type other than JSON or form fields; 422 missing, non-integer or negative field;
409 event_id already accepted; 413 body over 64 KiB; 503 queue full (with Retry-After) or
shutting down; 405 other methods (with Allow). Every error has a JSON body.
Beyond --max-connections a new connection gets 503 too_many_connections and is closed; a
connection is closed when no complete request header arrives within --header-timeout (also
while it idles between keep-alive requests).

SIGINT/SIGTERM: stop accepting, finish every accepted event (past --drain-timeout: start no
more and write the unstarted ones to --leftover as an events CSV), verify, print the report.
Exit codes: 0 ok, 1 ordering violated, 2 bad usage.")]
pub struct Args {
    /// Address to listen on (port 0: any free port; the real one is printed)
    #[arg(long, default_value = "127.0.0.1:3910")]
    pub listen: SocketAddr,
    /// Most events in flight: `auto` (one lane per account as accounts appear) or a number ≥ 1
    #[arg(long, short, default_value = "auto")]
    pub workers: Workers,
    /// How events are assigned to workers (`sharded` needs a number of workers)
    #[arg(long, short, value_enum, default_value_t = Strategy::Optimal)]
    pub strategy: Strategy,
    /// Processing time of every event, e.g. 1s, 250ms
    #[arg(long, default_value = "1s")]
    pub process_time: Micros,
    /// Answer 503 (with Retry-After) while this many events wait to start [default: unlimited]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_queued: Option<u64>,
    /// Write every processed event (account_id,event_id,worker,start_us,end_us) at shutdown
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// After a shutdown signal, start queued events only this long [default: until all ran]
    #[arg(long)]
    pub drain_timeout: Option<Micros>,
    /// Where the events not started before the drain timeout go (an events CSV for `run`)
    /// [default: unprocessed-<unix time>.csv]
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
    /// Most connections open at once; more get a 503 and are closed [default: the open-file
    /// limit minus 128]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
}

pub fn run(args: Args, _global: &GlobalArgs) -> Result<()> {
    let plan = Plan::new(args.strategy, args.workers)?;
    let lanes = plan.live_lanes()?;
    if args.header_timeout == Micros::ZERO {
        return Err(UsageError("--header-timeout must be more than 0".into()).into());
    }
    super::check_output_paths([
        args.log.as_deref(),
        args.json.as_deref(),
        args.leftover.as_deref(),
    ])?;
    let leftover = args.leftover.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from(format!("unprocessed-{now}.csv"))
    });
    let config = Config {
        strategy: plan.strategy(),
        lanes,
        process_time: args.process_time,
        per_event_durations: false,
        max_queued: args.max_queued,
        drain_timeout: args.drain_timeout.map(Micros::as_duration),
        leftover,
        announce: true,
        connections: Limits {
            header_timeout: args.header_timeout.as_duration(),
            max_connections: args
                .max_connections
                .map_or_else(Limits::default_max_connections, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
        },
    };
    let rt = crate::engine::runtime()?;
    let outcome = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        server::run(listener, config, shutdown_signal()).await
    })?;
    let info = RunInfo {
        plan,
        clock: ClockKind::Real,
    };
    let report = finish_run(
        &outcome.workload,
        info,
        outcome.execution,
        args.log.as_ref(),
        args.json.as_ref(),
    )?;
    print_report(&report, args.format)?;
    if outcome.refused_connections > 0 {
        eprintln!(
            "{} connections were refused (503) while --max-connections were open",
            outcome.refused_connections
        );
    }
    if let Some(l) = &outcome.leftover {
        eprintln!(
            "{} accepted events were handed back in {}",
            l.events,
            l.path.display()
        );
    }
    Ok(report.check()?)
}

/// Completes on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    crate::shutdown::signal().await;
    eprintln!("shutting down: no new events; finishing the accepted ones");
}
