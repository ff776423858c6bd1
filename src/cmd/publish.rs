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

Each event goes to queue PREFIX.(account_id % N), persistent, with publisher confirms; the
message body is JSON: {\"event_id\": 1, \"account_id\": 42, \"duration_us\": 1000000}.
Exit codes: 0 all confirmed, 2 bad usage or input, 3 broker unreachable or a message refused.")]
pub struct Args {
    #[command(flatten)]
    pub queue: crate::cli::QueueArgs,
    /// Events CSV to publish, `-` for standard input [default: ./events.csv if it exists, else
    /// the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Put this processing time into every message (else only a duration_us column is sent,
    /// and workers use their own --process-time)
    #[arg(long)]
    pub process_time: Option<Micros>,
    /// Empty the queues before publishing
    #[arg(long)]
    pub purge: bool,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let fallback = args.process_time.unwrap_or(Micros(1_000_000));
    let workload = super::load_workload(args.input.as_deref(), fallback)?;
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
        let p = publish::publish(&conn, &topo, &workload, with_durations).await?;
        let _ = conn.close(200, "done").await;
        anyhow::Ok(p)
    })?;
    println!(
        "published {} events ({} accounts) from {} to {} queues {}.0..{}.{} in {:.3}s \
         ({:.0} events/s); {} confirmed by the broker",
        published.events,
        workload.account_count(),
        workload.source(),
        topo.queues,
        topo.prefix,
        topo.prefix,
        topo.queues - 1,
        published.elapsed.as_secs_f64(),
        published.rate(),
        published.confirmed
    );
    Ok(())
}
