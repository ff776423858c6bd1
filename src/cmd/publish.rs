//! `eventbench publish`: declare the queues and publish a workload to RabbitMQ, routed by account.

use crate::broker::amqp;
use crate::broker::publish;
use crate::cli::GlobalArgs;
use crate::types::Micros;
use anyhow::Result;
use std::path::PathBuf;

/// Flags of `publish`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench publish --broker amqp://127.0.0.1:5672/%2f --queues 500 --input events.csv
  eventbench publish --broker amqp://guest:guest@mq:5672/%2f --queues 50 --purge \\
    --process-time 100ms

  eventbench publish --broker amqp://127.0.0.1:5672/%2f --queues 50 --batch 100  # throughput

Each event goes to queue PREFIX.(account_id % N), persistent, with publisher confirms, in
arrival order, one JSON object per message, {\"event_id\":1,\"account_id\":42} (the format
serve --broker sends). With --batch N a message carries up to N consecutive events of one
queue as a JSON array, [{\"event_id\":1,\"account_id\":42,\"duration_us\":1000000}, ...].
Workers take both.
Exit codes: 0 all confirmed, 2 bad usage or input, 3 broker unreachable or a message refused.")]
pub struct Args {
    #[command(flatten)]
    pub queue: crate::cli::QueueArgs,
    /// Events CSV to publish, `-` for standard input [default: standard input
    /// when piped or redirected, else ./events.csv if it exists, else the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub reading: crate::cli::InputArgs,
    /// Put this processing time into every message (else only a duration_us column is sent,
    /// and workers use their own --process-time)
    #[arg(long)]
    pub process_time: Option<Micros>,
    /// Empty the queues before publishing
    #[arg(long)]
    pub purge: bool,
    /// Events per message (consecutive events of one queue, in arrival order). RabbitMQ's cost
    /// is per message, so batches raise the rate. The crash cost: a message is acked only when
    /// all its events are done, so a worker killed with N-event messages unacked hands them
    /// back whole and another worker runs their finished events again (up to N × --prefetch per
    /// queue); with 1, only what it had in flight or finished since its last ack
    #[arg(long, default_value_t = publish::DEFAULT_BATCH,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Write what was published as JSON to this file (docs/REPORT.md, publish report)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What `publish --json` writes.
#[derive(serde::Serialize)]
struct PublishReport {
    build: crate::build_info::Build,
    /// The broker URL, its password masked.
    broker: String,
    input: String,
    events: u64,
    accounts: u64,
    queues: u32,
    queue_prefix: String,
    batch: u32,
    messages: u64,
    confirmed: u64,
    elapsed_s: f64,
    events_per_s: f64,
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    super::check_output_paths([args.json.as_deref()])?;
    let fallback = args.process_time.unwrap_or(Micros(1_000_000));
    let workload =
        super::load_workload(args.input.as_deref(), fallback, global.quiet, args.reading)?;
    let with_durations = args.process_time.is_some() || workload.has_per_event_durations();
    let topo = args.queue.topology();
    let rt = crate::engine::runtime()?;
    let published = rt.block_on(async {
        let conn = amqp::connect(&topo.url).await?;
        let ch = conn.create_channel().await?;
        amqp::declare(&ch, &topo).await?;
        if args.purge {
            let dropped = amqp::purge(&ch, &topo).await?;
            if !global.quiet {
                eprintln!("purged {dropped} messages");
            }
        }
        let shape = publish::Shape {
            with_durations,
            batch: args.batch,
        };
        let p = publish::publish(&conn, &topo, &workload, shape).await?;
        let _ = conn.close(200, "done").await;
        anyhow::Ok(p)
    })?;
    println!(
        "published {} events ({} accounts) from {} to {} queues {}.0..{}.{} in {:.3}s \
         ({:.0} events/s); {} messages of up to {} events, {} confirmed by the broker",
        published.events,
        workload.account_count(),
        workload.source(),
        topo.queues,
        topo.prefix,
        topo.prefix,
        topo.queues - 1,
        published.elapsed.as_secs_f64(),
        published.rate(),
        published.messages,
        args.batch,
        published.confirmed
    );
    if let Some(path) = &args.json {
        let report = PublishReport {
            build: crate::build_info::Build::current(),
            broker: topo.display_url(),
            input: workload.source().to_string(),
            events: published.events,
            accounts: workload.account_count() as u64,
            queues: topo.queues,
            queue_prefix: topo.prefix.clone(),
            batch: args.batch,
            messages: published.messages,
            confirmed: published.confirmed,
            elapsed_s: published.elapsed.as_secs_f64(),
            events_per_s: published.rate(),
        };
        crate::output::write_json_atomic(path, &report)?;
    }
    Ok(())
}
