//! `eventbench send`: post a workload to a running `serve`, keeping per-account order.

use crate::cli::GlobalArgs;
use crate::output::Format;
use crate::progress::Progress;
use crate::server::client::{send_all, SendConfig, SendReport};
use crate::types::Micros;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Flags of `send`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench serve --process-time 10ms &            # in another terminal
  eventbench send --url http://127.0.0.1:3910/api --input events.csv
  eventbench send --url http://127.0.0.1:3910/api --concurrency 256 --format json

An account's next event is posted only after the previous one was accepted (202), so the server
sees every account's events in file order. 503 answers are retried after Retry-After; any other
refusal stops the run with an error.")]
pub struct Args {
    /// The server's POST endpoint
    #[arg(long, default_value = "http://127.0.0.1:3910/api")]
    pub url: String,
    /// Events CSV to send, `-` for standard input [default: ./events.csv if it exists, else
    /// the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Accounts sent at the same time (each account's events one after another)
    #[arg(long, short, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub concurrency: u64,
    /// Processing time of the input's events (sent only with a duration_us column)
    #[arg(long, default_value = "1s")]
    pub process_time: Micros,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let workload = super::load_workload(args.input.as_deref(), args.process_time)?;
    if !global.quiet {
        eprintln!(
            "sending {} events of {} accounts from {} to {}",
            workload.len(),
            workload.account_count(),
            workload.source(),
            args.url
        );
    }
    let config = SendConfig {
        url: args.url.clone(),
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
    };
    let rt = crate::engine::runtime()?;
    let report = rt.block_on(async {
        let accepted = Arc::new(AtomicU64::new(0));
        let progress = Progress::new(workload.len() as u64, "sending", global.quiet);
        let counter = Arc::clone(&accepted);
        let ticker = progress.follow(move || counter.load(Relaxed));
        let report = send_all(&workload, &config, accepted).await;
        if let Some(t) = ticker {
            t.stop().await;
        }
        progress.finish();
        report
    })?;
    print(&report, args.format)
}

fn print(r: &SendReport, format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, r)?;
            writeln!(out)?;
        }
        Format::Table => {
            let p = r.latency_us;
            writeln!(out, "url          {}", r.url)?;
            writeln!(
                out,
                "events       {} accepted of {} ({} retries after 503)",
                r.accepted, r.events, r.retries
            )?;
            writeln!(
                out,
                "elapsed      {:.3} s with {} concurrent account streams",
                r.elapsed_s, r.concurrency
            )?;
            writeln!(
                out,
                "throughput   {:.1} requests/s, {:.1} accepted events/s",
                r.requests_per_s, r.accepted_per_s
            )?;
            writeln!(
                out,
                "latency      p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                Micros(p.p50),
                Micros(p.p90),
                Micros(p.p99),
                Micros(p.p999),
                Micros(p.max)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
