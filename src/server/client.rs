//! The sending side (`send`, `run --ingest http`): posts a workload's events over HTTP while
//! keeping each account's order, and measures request latency.
//!
//! An account's next event is posted only after the previous one was accepted, so the server
//! sees every account's events in their original order. Accounts are handed to a bounded set of
//! concurrent streams, longest chains first so they are not left for the end.

use crate::report::stats::Percentiles;
use crate::types::Micros;
use crate::workload::Workload;
use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Gives up on an event the server keeps refusing with 503 after this many retries.
const MAX_RETRIES: u32 = 100;

/// How to send.
#[derive(Clone, Debug)]
pub struct SendConfig {
    /// The `POST /api` URL.
    pub url: String,
    /// Accounts sent concurrently (each one sequentially).
    pub concurrency: usize,
}

/// What sending achieved.
#[derive(Clone, Debug, Serialize)]
pub struct SendReport {
    pub url: String,
    pub events: u64,
    pub accepted: u64,
    /// 503 answers that were retried.
    pub retries: u64,
    pub concurrency: usize,
    pub elapsed_s: f64,
    /// Requests (including retries) per second.
    pub requests_per_s: f64,
    /// Accepted events per second.
    pub accepted_per_s: f64,
    /// Latency of each accepted request, from sending to the 202.
    pub latency_us: Percentiles,
}

/// One account's events, in order: (event_id, account_id, duration_us if the event has one).
type Stream = Vec<(u64, u64, Option<u64>)>;

struct Shared {
    client: reqwest::Client,
    url: String,
    streams: Vec<Stream>,
    next: AtomicUsize,
    failed: AtomicBool,
    accepted: Arc<AtomicU64>,
    retries: AtomicU64,
}

/// Posts every event of `workload`; `accepted` counts 202s as they come (for progress bars).
pub async fn send_all(
    workload: &Workload,
    config: &SendConfig,
    accepted: Arc<AtomicU64>,
) -> Result<SendReport> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.concurrency)
        .tcp_nodelay(true)
        .build()
        .context("cannot build the HTTP client")?;
    let shared = Arc::new(Shared {
        client,
        url: config.url.clone(),
        streams: streams(workload),
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        accepted,
        retries: AtomicU64::new(0),
    });
    let tasks = config.concurrency.clamp(1, shared.streams.len().max(1));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        set.spawn(stream_worker(Arc::clone(&shared)));
    }
    let mut latency = new_histogram();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined
            .map_err(|e| anyhow!("a sending task failed: {e}"))
            .and_then(|r| r)
        {
            Ok(h) => latency.add(&h).context("cannot merge latency histograms")?,
            Err(e) => {
                shared.failed.store(true, Relaxed);
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = shared.accepted.load(Relaxed);
    let retries = shared.retries.load(Relaxed);
    let per_s = |n: u64| {
        if elapsed > 0.0 {
            n as f64 / elapsed
        } else {
            0.0
        }
    };
    Ok(SendReport {
        url: config.url.clone(),
        events: workload.len() as u64,
        accepted,
        retries,
        concurrency: tasks,
        elapsed_s: elapsed,
        requests_per_s: per_s(accepted + retries),
        accepted_per_s: per_s(accepted),
        latency_us: percentiles(&latency),
    })
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures is valid")
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let q = |p| h.value_at_quantile(p);
    Percentiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max(),
    }
}

/// Groups events per account (keeping their order), longest chains first.
fn streams(w: &Workload) -> Vec<Stream> {
    let mut by_account: Vec<Stream> = vec![Vec::new(); w.account_count()];
    let per_event = w.has_per_event_durations();
    for e in w.indexes() {
        let a = w.account_of(e);
        let d = per_event.then(|| w.duration(e).0);
        by_account[a.0 as usize].push((w.event_id(e).0, w.account_id(a).0, d));
    }
    by_account.sort_by_key(|s| std::cmp::Reverse(s.len()));
    by_account
}

async fn stream_worker(shared: Arc<Shared>) -> Result<Histogram<u64>> {
    let mut hist = new_histogram();
    loop {
        let i = shared.next.fetch_add(1, Relaxed);
        let Some(stream) = shared.streams.get(i) else {
            return Ok(hist);
        };
        for &(event, account, duration) in stream {
            if shared.failed.load(Relaxed) {
                return Ok(hist);
            }
            let us = post_one(&shared, event, account, duration).await?;
            let _ = hist.record(us.max(1));
            shared.accepted.fetch_add(1, Relaxed);
        }
    }
}

/// Posts one event until it is accepted; returns the latency of the accepted attempt in µs.
async fn post_one(shared: &Shared, event: u64, account: u64, duration: Option<u64>) -> Result<u64> {
    let body = match duration {
        Some(d) => format!(r#"{{"event_id":{event},"account_id":{account},"duration_us":{d}}}"#),
        None => format!(r#"{{"event_id":{event},"account_id":{account}}}"#),
    };
    for attempt in 0..=MAX_RETRIES {
        let sent = Instant::now();
        let resp = shared
            .client
            .post(&shared.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("cannot POST event {event} to {}", shared.url))?;
        let status = resp.status();
        if status == StatusCode::ACCEPTED {
            let us = Micros::from_duration(sent.elapsed()).0;
            // Drain the body so the connection goes back to the pool.
            let _ = resp.bytes().await;
            return Ok(us);
        }
        if status != StatusCode::SERVICE_UNAVAILABLE {
            let text = resp.text().await.unwrap_or_default();
            bail!(
                "{} refused event {event} (account {account}): {status}: {}",
                shared.url,
                text.trim()
            );
        }
        shared.retries.fetch_add(1, Relaxed);
        let wait = retry_after(resp.headers()).unwrap_or_else(|| backoff(attempt));
        tokio::time::sleep(wait).await;
    }
    bail!(
        "{} still refused event {event} (account {account}) with 503 after {MAX_RETRIES} retries",
        shared.url
    )
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(60)))
}

/// 10 ms doubling up to 2 s, for a 503 without `Retry-After`.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(10u64.saturating_mul(1 << attempt.min(8))).min(Duration::from_secs(2))
}
