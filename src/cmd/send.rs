//! `eventbench send`: post a workload to a running `serve` or any web API, keeping
//! per-account order.

use crate::cli::GlobalArgs;
use crate::error::UsageError;
use crate::output::Format;
use crate::progress::Progress;
use crate::send::client::{send_all, SendConfig, SendReport, Trust};
use crate::send::request::{Body, Header, RequestSpec, SentLog};
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
  eventbench send --url https://bench.example:3910/api --cacert ca.pem --token-file token
  eventbench send --url http://127.0.0.1:8000/events --body form --sent sent.csv
  eventbench send --url 'http://app/users/{account_id}/events' --method PUT \\
      --body '{\"id\": {event_id}}' --header 'Authorization: Bearer T' --rate 500
  eventbench send --input big.csv --duration 30s     # sample: send for 30 s, report what went
  eventbench send --input big.csv --events 10000     # only the first 10,000 events

An account's next event is posted only after the previous one was accepted (any 2xx), so the
server sees every account's events in file order. 503 and 429 answers are retried after
Retry-After; 409 (the server accepted that event before: a send resumed after a crash, or run
twice) is counted as already accepted and the account goes on; any other refusal stops the
run with an error. {account_id}, {event_id} and
{duration_us} are replaced in --url and in a --body template.")]
pub struct Args {
    /// The server's POST endpoint
    #[arg(long, default_value = "http://127.0.0.1:3910/api")]
    pub url: String,
    /// Events CSV to send, `-` for standard input [default: standard input
    /// when piped or redirected, else ./events.csv if it exists, else the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub reading: crate::cli::InputArgs,
    /// Closed model: accounts sent at the same time (each account's events one after
    /// another); open model (--rate): most requests in flight
    #[arg(long, short, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub concurrency: u64,
    /// Processing time of the input's events (sent only with a duration_us column)
    #[arg(long, default_value = "1s")]
    pub process_time: Micros,
    /// Request body: json, form, or a template with {account_id}, {event_id}, {duration_us}
    #[arg(long, default_value = "json")]
    pub body: Body,
    /// Extra request header 'Name: value' (repeatable); a Content-Type given here wins
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<Header>,
    /// Send 'Authorization: Bearer <the file's first line>' with every request (the token of
    /// `serve --token-file`)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// For an https:// --url: trust the server's certificate only if this CA (PEM) signed it,
    /// e.g. the certificate of `serve --tls-cert` itself when it is self-signed [default: the
    /// system's CAs]
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// HTTP method
    #[arg(long, short = 'X', default_value = "POST")]
    pub method: String,
    /// Open model: send this many events per second on a fixed schedule (latency counts from
    /// each event's due time); default: closed model, the next request when one is answered
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Write one row per answered event (event_id,account_id,sent_unix_us,accepted_unix_us,
    /// status) as answers arrive, for `verify --sent`
    #[arg(long)]
    pub sent: Option<PathBuf>,
    /// Send only the first N events of the input (in file order), to sample a long workload
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub events: Option<u64>,
    /// Stop sending after this long (e.g. 30s): no new request and no retry leaves after it;
    /// the answers in flight are awaited and the report says how many events were sent
    #[arg(long, value_name = "TIME")]
    pub duration: Option<Micros>,
    /// Write the send report as JSON to this file too
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "rate '{s}' is not a positive number of events per second"
        )),
    }
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let mut headers = args.headers;
    if let Some(path) = &args.token_file {
        let token = crate::token::Token::read(path)?;
        headers.push(Header::authorization(&token)?);
    }
    let request = RequestSpec::new(&args.method, &args.url, args.body, headers)?;
    let trust = args.cacert.as_deref().map(Trust::load).transpose()?;
    super::check_output_paths([args.sent.as_deref(), args.json.as_deref()])?;
    if args.duration.is_some_and(|d| d.0 == 0) {
        return Err(UsageError("--duration must be more than 0 (e.g. 30s)".into()).into());
    }
    let mut workload = super::load_workload(
        args.input.as_deref(),
        args.process_time,
        global.quiet,
        args.reading,
    )?;
    if let Some(n) = args.events {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n < workload.len() {
            workload = workload.first(n);
        } else if !global.quiet {
            eprintln!(
                "--events {n}: the input has only {} events; sending them all",
                workload.len()
            );
        }
    }
    if !global.quiet {
        eprintln!(
            "sending {} events of {} accounts from {} to {}",
            workload.len(),
            workload.account_count(),
            workload.source(),
            crate::url_authority::redact(&args.url)
        );
    }
    let config = SendConfig {
        request,
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        rate: args.rate,
        duration: args.duration.map(Micros::as_duration),
        trust,
    };
    let sent = args
        .sent
        .as_deref()
        .map(SentLog::create)
        .transpose()?
        .map(Arc::new);
    let rt = crate::engine::runtime()?;
    let report = rt.block_on(async {
        let accepted = Arc::new(AtomicU64::new(0));
        let progress = Progress::new(workload.len() as u64, "sending", global.quiet);
        let counter = Arc::clone(&accepted);
        let ticker = progress.follow(move || counter.load(Relaxed));
        let report = send_all(&workload, &config, accepted, sent).await;
        if let Some(t) = ticker {
            t.stop().await;
        }
        progress.finish();
        report
    })?;
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &report)?;
    }
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
                "events       {} accepted of {} ({} retries after 503 or 429)",
                r.accepted, r.events, r.retries
            )?;
            if r.already_accepted > 0 {
                writeln!(
                    out,
                    "already      {} accepted before (409): the server had them already",
                    r.already_accepted
                )?;
            }
            if let Some(limit) = r.duration_s {
                let limit = Micros((limit * 1e6).round() as u64);
                let line = if r.stopped_early {
                    format!(
                        "stopped after --duration {limit}: {} of {} events sent",
                        r.sent, r.events
                    )
                } else {
                    format!("every event sent within --duration {limit}")
                };
                writeln!(out, "duration     {line}")?;
            }
            let model = match r.rate {
                Some(rate) => format!(
                    "open model at {rate} events/s, at most {} requests in flight",
                    r.concurrency
                ),
                None => format!("{} concurrent account streams", r.concurrency),
            };
            writeln!(out, "elapsed      {:.3} s, {model}", r.elapsed_s)?;
            writeln!(
                out,
                "throughput   {:.1} requests/s, {:.1} accepted events/s",
                r.requests_per_s, r.accepted_per_s
            )?;
            writeln!(
                out,
                "latency      {}p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                if r.rate.is_some() {
                    "(from due time) "
                } else {
                    ""
                },
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
