//! The sending side (`send`, `run --ingest http`): posts a workload's events over HTTP while
//! keeping each account's order, and measures request latency.
//!
//! An account's next event is posted only after the previous one was accepted, so the server
//! sees every account's events in their original order. Closed model: a bounded set of
//! concurrent account streams, longest chains first so they are not left for the end. Open
//! model (`rate`): event i is due at i / rate; its latency counts from that due time, so a
//! slow server cannot hide behind a sender that waits for it.

use super::request::{RequestSpec, SentLog, SentRow};
use crate::report::stats::Percentiles;
use crate::types::Micros;
use crate::workload::Workload;
use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Gives up on an event the server keeps refusing with 503/429 after this many retries.
const MAX_RETRIES: u32 = 100;

/// How to send.
#[derive(Clone, Debug)]
pub struct SendConfig {
    pub request: RequestSpec,
    /// Requests in flight at most (closed model: account streams).
    pub concurrency: usize,
    /// Open model: events per second on a fixed schedule.
    pub rate: Option<f64>,
    /// Send no request (first try or retry) after this long from the start; what is in
    /// flight then is still answered and counted.
    pub duration: Option<Duration>,
    /// For https URLs: trust only these CAs (`--cacert`); `None`: the system's.
    pub trust: Option<Trust>,
}

/// The certificates of `send --cacert FILE` (PEM), read and checked before anything is sent.
#[derive(Clone, Debug)]
pub struct Trust(Vec<reqwest::Certificate>);

impl Trust {
    pub fn load(path: &std::path::Path) -> Result<Trust, crate::error::UsageError> {
        let bad =
            |what: String| crate::error::UsageError(format!("--cacert {}: {what}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "no PEM certificate in it (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        Ok(Trust(certs))
    }
}

impl SendConfig {
    /// Our own API, closed model.
    pub fn ours(url: &str, concurrency: usize) -> Self {
        SendConfig {
            request: RequestSpec::json_post(url),
            concurrency,
            rate: None,
            duration: None,
            trust: None,
        }
    }
}

/// What sending achieved.
#[derive(Clone, Debug, Serialize)]
pub struct SendReport {
    /// The build of the sender (docs/REPORT.md, `build`).
    pub build: crate::build_info::Build,
    pub url: String,
    pub events: u64,
    pub accepted: u64,
    /// Events the server answered 409: it had accepted them before (a resumed or repeated
    /// send against a durable server). Not failures; not in `accepted`.
    pub already_accepted: u64,
    /// 503 and 429 answers that were retried.
    pub retries: u64,
    pub concurrency: usize,
    /// `closed` (next request when one is answered) or `open` (requests on a schedule).
    pub model: &'static str,
    /// The open model's target rate, events/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub elapsed_s: f64,
    /// Requests (including retries) per second.
    pub requests_per_s: f64,
    /// Accepted events per second.
    pub accepted_per_s: f64,
    /// Events posted at least once: `events`, unless `--duration` ran out first.
    pub sent: u64,
    /// The `--duration` limit, seconds (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// `--duration` ran out before every event was sent (or accepted).
    pub stopped_early: bool,
    /// Per accepted event: from sending (closed) or from its due time (open) to the answer.
    pub latency_us: Percentiles,
}

/// One event to send: (event_id, account_id, duration_us if the event has one).
type Job = (u64, u64, Option<u64>);

struct Shared {
    client: reqwest::Client,
    request: RequestSpec,
    sent: Option<Arc<SentLog>>,
    failed: AtomicBool,
    accepted: Arc<AtomicU64>,
    already: AtomicU64,
    retries: AtomicU64,
    /// Events posted at least once.
    posted: AtomicU64,
    /// No request leaves after this instant (`--duration`).
    stop_at: Option<Instant>,
    /// A request was held back because `stop_at` had passed.
    stopped: AtomicBool,
}

impl Shared {
    /// True once the `--duration` has run out (and notes that something was held back).
    fn out_of_time(&self) -> bool {
        let over = self.stop_at.is_some_and(|t| Instant::now() >= t);
        if over {
            self.stopped.store(true, Relaxed);
        }
        over
    }
}

/// Posts every event of `workload`; `accepted` counts accepted events as they come (for
/// progress bars); `sent` receives one row per answered event.
pub async fn send_all(
    workload: &Workload,
    config: &SendConfig,
    accepted: Arc<AtomicU64>,
    sent: Option<Arc<SentLog>>,
) -> Result<SendReport> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(config.concurrency)
        .tcp_nodelay(true)
        .use_rustls_tls();
    if let Some(Trust(certs)) = &config.trust {
        // As curl's --cacert: the given CAs replace the system's.
        builder = builder.tls_built_in_root_certs(false);
        for c in certs {
            builder = builder.add_root_certificate(c.clone());
        }
    }
    let client = builder.build().context("cannot build the HTTP client")?;
    let shared = Arc::new(Shared {
        client,
        request: config.request.clone(),
        sent,
        failed: AtomicBool::new(false),
        accepted,
        already: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        posted: AtomicU64::new(0),
        stop_at: config.duration.map(|d| Instant::now() + d),
        stopped: AtomicBool::new(false),
    });
    let started = Instant::now();
    let (latency, tasks) = match config.rate {
        Some(rate) => (
            open(workload, config, rate, &shared).await?,
            config.concurrency,
        ),
        None => closed(workload, config, &shared).await?,
    };
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
        build: crate::build_info::Build::current(),
        // Reports show the URL, never its password.
        url: crate::url_authority::redact(&config.request.url),
        events: workload.len() as u64,
        accepted,
        already_accepted: shared.already.load(Relaxed),
        retries,
        concurrency: tasks,
        model: if config.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        rate: config.rate,
        elapsed_s: elapsed,
        requests_per_s: per_s(accepted + shared.already.load(Relaxed) + retries),
        accepted_per_s: per_s(accepted),
        sent: shared.posted.load(Relaxed),
        duration_s: config.duration.map(|d| d.as_secs_f64()),
        stopped_early: shared.stopped.load(Relaxed),
        latency_us: percentiles(&latency),
    })
}

/// Closed model: `concurrency` tasks each take whole accounts and send them in order.
async fn closed(
    w: &Workload,
    config: &SendConfig,
    shared: &Arc<Shared>,
) -> Result<(Histogram<u64>, usize)> {
    let streams = Arc::new(streams(w));
    let next = Arc::new(AtomicUsize::new(0));
    let tasks = config.concurrency.clamp(1, streams.len().max(1));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (shared, streams, next) = (Arc::clone(shared), Arc::clone(&streams), Arc::clone(&next));
        set.spawn(async move {
            let mut hist = new_histogram();
            while let Some(stream) = streams.get(next.fetch_add(1, Relaxed)) {
                for &job in stream {
                    if shared.failed.load(Relaxed) || shared.out_of_time() {
                        return Ok(hist);
                    }
                    if let Some(sent) = post_one(&shared, job).await? {
                        let _ = hist.record(Micros::from_duration(sent.elapsed()).0.max(1));
                    }
                }
            }
            Ok(hist)
        });
    }
    Ok((join(set, shared).await?, tasks))
}

/// Open model: a dispatcher releases event i at `i / rate`; one task per account sends its
/// events in order (waiting for the previous answer), at most `concurrency` requests at once.
async fn open(
    w: &Workload,
    config: &SendConfig,
    rate: f64,
    shared: &Arc<Shared>,
) -> Result<Histogram<u64>> {
    use tokio::sync::{mpsc, Semaphore};
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut lanes: Vec<Option<mpsc::UnboundedSender<(Job, Instant)>>> =
        vec![None; w.account_count()];
    let mut set = tokio::task::JoinSet::new();
    let per_event = w.has_per_event_durations();
    let start = Instant::now();
    for (i, e) in w.indexes().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if shared.stop_at.is_some_and(|t| due >= t) {
            // Due after the end: released never.
            shared.stopped.store(true, Relaxed);
            break;
        }
        tokio::time::sleep_until(due).await;
        if shared.failed.load(Relaxed) {
            break;
        }
        let a = w.account_of(e);
        let job = (
            w.event_id(e).0,
            w.account_id(a).0,
            per_event.then(|| w.duration(e).0),
        );
        let lane = lanes[a.0 as usize].get_or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<(Job, Instant)>();
            let (shared, permits) = (Arc::clone(shared), Arc::clone(&permits));
            set.spawn(async move {
                let mut hist = new_histogram();
                while let Some((job, due)) = rx.recv().await {
                    if shared.failed.load(Relaxed) {
                        break;
                    }
                    let _permit = permits.acquire().await.expect("the semaphore stays open");
                    // Released in time, but waiting for the account's previous answer or a
                    // permit until after the end: not sent either.
                    if shared.out_of_time() {
                        break;
                    }
                    if post_one(&shared, job).await?.is_some() {
                        let _ = hist.record(Micros::from_duration(due.elapsed()).0.max(1));
                    }
                }
                Ok(hist)
            });
            tx
        });
        // The lane's task ends only after the dispatcher drops its sender, or on a failure
        // that `join` reports.
        let _ = lane.send((job, due));
    }
    drop(lanes);
    join(set, shared).await
}

/// Waits for every task; merges their histograms, or returns the first error.
async fn join(
    mut set: tokio::task::JoinSet<Result<Histogram<u64>>>,
    shared: &Shared,
) -> Result<Histogram<u64>> {
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
    match first_error {
        Some(e) => Err(e),
        None => Ok(latency),
    }
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
fn streams(w: &Workload) -> Vec<Vec<Job>> {
    let mut by_account: Vec<Vec<Job>> = vec![Vec::new(); w.account_count()];
    let per_event = w.has_per_event_durations();
    for e in w.indexes() {
        let a = w.account_of(e);
        let d = per_event.then(|| w.duration(e).0);
        by_account[a.0 as usize].push((w.event_id(e).0, w.account_id(a).0, d));
    }
    by_account.sort_by_key(|s| std::cmp::Reverse(s.len()));
    by_account
}

/// What to do about a server certificate the client did not trust, or nothing for another
/// error (rustls names the reason only deep in the error's sources).
fn untrusted_hint(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("invalid peer certificate") {
            return " (the server's TLS certificate is not trusted: give the CA that signed it \
                    with --cacert FILE; a self-signed certificate must not be marked as a CA, \
                    see docs/SECURITY.md)";
        }
        source = s.source();
    }
    ""
}

/// Posts one event until it is accepted (any 2xx) or found already accepted (409); returns
/// when the accepted attempt was sent, or None when it was already accepted or `--duration`
/// ran out before a retry.
async fn post_one(shared: &Shared, (event, account, duration): Job) -> Result<Option<Instant>> {
    let (url, body) = shared.request.render(event, account, duration);
    for attempt in 0..=MAX_RETRIES {
        if attempt == 0 {
            shared.posted.fetch_add(1, Relaxed);
        } else if shared.out_of_time() {
            return Ok(None);
        }
        let sent = Instant::now();
        let sent_unix = super::request::unix_us();
        let resp = shared
            .client
            .request(shared.request.method.clone(), &url)
            .headers(shared.request.headers.clone())
            .body(body.clone())
            .send()
            .await
            .map_err(|e| {
                let hint = untrusted_hint(&e);
                anyhow::Error::new(e).context(format!("cannot send event {event} to {url}{hint}"))
            })?;
        let status = resp.status();
        let retry = matches!(
            status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        );
        if !retry || attempt == MAX_RETRIES {
            if let Some(log) = &shared.sent {
                log.append(&SentRow {
                    event,
                    account,
                    sent_unix_us: sent_unix,
                    answered_unix_us: super::request::unix_us(),
                    status: status.as_u16(),
                })?;
            }
        }
        if status.is_success() {
            shared.accepted.fetch_add(1, Relaxed);
            // Drain the body so the connection goes back to the pool.
            let _ = resp.bytes().await;
            return Ok(Some(sent));
        }
        if status == StatusCode::CONFLICT {
            // The server has this event already (a send resumed after a crash, or run twice):
            // its order is kept by the server, and the account's next event may follow.
            shared.already.fetch_add(1, Relaxed);
            let _ = resp.bytes().await;
            return Ok(None);
        }
        if !retry {
            let text = resp.text().await.unwrap_or_default();
            bail!(
                "{url} refused event {event} (account {account}): {status}: {}",
                text.trim()
            );
        }
        shared.retries.fetch_add(1, Relaxed);
        let wait = retry_after(resp.headers()).unwrap_or_else(|| backoff(attempt));
        tokio::time::sleep(wait).await;
    }
    bail!("{url} still refused event {event} (account {account}) after {MAX_RETRIES} retries")
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
