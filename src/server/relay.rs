//! `serve --broker`: the web API in front of RabbitMQ. Every accepted event is published to
//! its account's queue (persistent, publisher-confirmed) before the 202 goes out; nothing is
//! processed here (`eventbench worker` does that). A broker that is unreachable or does not
//! confirm earns a 503 with `Retry-After`, never a 202.

use super::api::{error, read_body, RETRY_AFTER_S};
use super::metrics::{Metrics, Reason};
use super::parse;
use crate::broker::amqp::Message;
use crate::broker::confirm::{ConfirmError, ConfirmedPublisher};
use crate::report::stats::{Distribution, Percentiles};
use crate::sync::lock;
use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use serde::Serialize;
use serde_json::json;
use std::collections::HashSet;
use std::fmt::Write;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The relay's shared state behind every handler.
struct Relay {
    sink: Arc<ConfirmedPublisher>,
    /// Event ids accepted, or being published right now (a concurrent duplicate gets 409).
    seen: Mutex<HashSet<u64>>,
    metrics: Metrics,
    closing: AtomicBool,
    accepted: AtomicU64,
    /// From the request's arrival to the broker's confirm.
    confirm_us: Mutex<Distribution>,
    started: Instant,
    /// µs after `started` of the first and the latest 202.
    first_accept: AtomicU64,
    last_accept: AtomicU64,
}

/// What a relay that has shut down hands back: the JSON report of `serve --broker`.
#[derive(Clone, Debug, Serialize)]
pub struct RelayOutcome {
    pub eventbench_version: &'static str,
    pub mode: &'static str,
    pub broker: String,
    pub queues: u32,
    pub queue_prefix: String,
    /// Events answered 202: each one confirmed by the broker.
    pub accepted: u64,
    pub rejected: u64,
    pub broker_unavailable: u64,
    pub duplicates: u64,
    /// From the first to the last 202.
    pub accept_time_s: f64,
    pub accept_rate_eps: f64,
    /// From a request's arrival to the broker's confirm, for accepted events.
    pub confirm_latency_us: Percentiles,
}

/// Serves until `shutdown` completes; in-flight requests get their answer before it returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    sink: Arc<ConfirmedPublisher>,
    announce: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RelayOutcome> {
    let addr: SocketAddr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let relay = Arc::new(Relay {
        sink: Arc::clone(&sink),
        seen: Mutex::new(HashSet::new()),
        metrics: Metrics::default(),
        closing: AtomicBool::new(false),
        accepted: AtomicU64::new(0),
        confirm_us: Mutex::new(Distribution::default()),
        started: Instant::now(),
        first_accept: AtomicU64::new(u64::MAX),
        last_accept: AtomicU64::new(0),
    });
    if announce {
        let t = sink.topology();
        eprintln!(
            "eventbench serve listening on http://{addr} (POST /api, GET /metrics, GET /healthz)"
        );
        eprintln!(
            "  broker mode: each accepted event is confirmed by RabbitMQ at {} ({} queues {}.*) \
             before 202; workers process",
            t.display_url(),
            t.queues,
            t.prefix
        );
    }
    let closing = Arc::clone(&relay);
    let signal = async move {
        shutdown.await;
        closing.closing.store(true, Relaxed);
    };
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(Arc::clone(&relay)))
        .with_graceful_shutdown(signal)
        .await
        .context("the HTTP server failed")?;
    // Every request was answered, so every confirm was awaited: the connection may go.
    sink.close().await;
    Ok(outcome(&relay))
}

fn outcome(relay: &Relay) -> RelayOutcome {
    let t = relay.sink.topology();
    let accepted = relay.accepted.load(Relaxed);
    let first = relay.first_accept.load(Relaxed);
    let span_us = relay.last_accept.load(Relaxed).saturating_sub(first);
    let accept_time_s = if accepted > 0 {
        span_us as f64 / 1e6
    } else {
        0.0
    };
    RelayOutcome {
        eventbench_version: env!("CARGO_PKG_VERSION"),
        mode: "broker",
        broker: t.display_url(),
        queues: t.queues,
        queue_prefix: t.prefix.clone(),
        accepted,
        rejected: relay.metrics.rejected_total(),
        broker_unavailable: relay.metrics.rejected(Reason::BrokerUnavailable),
        duplicates: relay.metrics.rejected(Reason::Duplicate),
        accept_time_s,
        accept_rate_eps: if accept_time_s > 0.0 {
            accepted.saturating_sub(1) as f64 / accept_time_s
        } else {
            0.0
        },
        confirm_latency_us: lock(&relay.confirm_us).percentiles(),
    }
}

fn router(relay: Arc<Relay>) -> Router {
    Router::new()
        .route("/api", post(post_event).fallback(not_allowed_post))
        .route("/healthz", get(healthz).fallback(not_allowed_get))
        .route("/metrics", get(metrics).fallback(not_allowed_get))
        .fallback(not_found)
        .with_state(relay)
}

fn refuse(relay: &Relay, reason: Reason, message: &str) -> Response {
    relay.metrics.reject(reason);
    error(reason, message)
}

async fn not_allowed_post(State(relay): State<Arc<Relay>>) -> Response {
    not_allowed(&relay, "POST")
}

async fn not_allowed_get(State(relay): State<Arc<Relay>>) -> Response {
    not_allowed(&relay, "GET, HEAD")
}

fn not_allowed(relay: &Relay, allow: &'static str) -> Response {
    let msg = format!("method not allowed; use {allow}");
    let mut resp = refuse(relay, Reason::MethodNotAllowed, &msg);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

async fn not_found(State(relay): State<Arc<Relay>>) -> Response {
    let msg = "no such route; POST /api, GET /healthz, GET /metrics";
    refuse(&relay, Reason::NotFound, msg)
}

async fn post_event(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Response {
    let arrived = Instant::now();
    if relay.closing.load(Relaxed) {
        return refuse(&relay, Reason::ShuttingDown, "the server is shutting down");
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let parsed = match parse::encoding(content_type) {
        Ok(enc) => match read_body(&headers, body).await {
            Ok(bytes) => parse::event(enc, &bytes),
            Err(bad) => Err(bad),
        },
        Err(bad) => Err(bad),
    };
    let incoming = match parsed {
        Ok(e) => e,
        Err(bad) => return refuse(&relay, bad.reason, &bad.message),
    };
    let id = incoming.event.0;
    if !lock(&relay.seen).insert(id) {
        let msg = format!("event {id} was already accepted; it is not queued twice");
        return refuse(&relay, Reason::Duplicate, &msg);
    }
    let msg = Message {
        event_id: id,
        account_id: incoming.account.0,
        duration_us: incoming.duration.map(|d| d.0),
    };
    // Its own task: a client that hangs up mid-publish must not cancel the publish half-way
    // and leave its id marked as accepted (a retry would then get 409 for a lost event).
    let publishing = Arc::clone(&relay);
    let published = tokio::spawn(async move {
        let result = publishing.sink.publish(&msg).await;
        if result.is_err() {
            // Not accepted: the client may send it again.
            lock(&publishing.seen).remove(&msg.event_id);
        }
        result
    })
    .await;
    let failure = match published {
        Ok(Ok(())) => None,
        Ok(Err(e @ ConfirmError::Unavailable)) => {
            Some(format!("{e}; retry after {RETRY_AFTER_S} s"))
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the publish task failed".to_string()),
    };
    if let Some(text) = failure {
        return refuse(&relay, Reason::BrokerUnavailable, &text);
    }
    accepted(&relay, arrived, &msg)
}

fn accepted(relay: &Relay, arrived: Instant, msg: &Message) -> Response {
    let now = relay.started.elapsed().as_micros() as u64;
    relay.first_accept.fetch_min(now, Relaxed);
    relay.last_accept.fetch_max(now, Relaxed);
    let sequence = relay.accepted.fetch_add(1, Relaxed);
    lock(&relay.confirm_us).record(arrived.elapsed().as_micros() as u64);
    let topo = relay.sink.topology();
    let queue = topo.queue_of(crate::types::AccountId(msg.account_id));
    let body = format!(
        r#"{{"status":"accepted","event_id":{},"account_id":{},"sequence":{sequence},"queue":"{}.{queue}","confirmed":true}}"#,
        msg.event_id, msg.account_id, topo.prefix
    );
    let ct = HeaderValue::from_static("application/json");
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, ct)], body).into_response()
}

async fn healthz(State(relay): State<Arc<Relay>>) -> Response {
    let status = match (relay.closing.load(Relaxed), relay.sink.is_up()) {
        (true, _) => "draining",
        (false, true) => "ok",
        (false, false) => "broker_unavailable",
    };
    let code = if status == "broker_unavailable" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": status,
        "mode": "broker",
        "accepted": relay.accepted.load(Relaxed),
    });
    (code, axum::Json(body)).into_response()
}

async fn metrics(State(relay): State<Arc<Relay>>) -> Response {
    let mut o = String::with_capacity(2048);
    let name = "eventbench_events_accepted_total";
    let _ = writeln!(
        o,
        "# HELP {name} Events accepted (202), each confirmed by RabbitMQ.\n# TYPE {name} counter\n{name} {}",
        relay.accepted.load(Relaxed)
    );
    let name = "eventbench_broker_up";
    let _ = writeln!(
        o,
        "# HELP {name} 1 while the connection to RabbitMQ is open.\n# TYPE {name} gauge\n{name} {}",
        u8::from(relay.sink.is_up())
    );
    let name = "eventbench_requests_rejected_total";
    let _ = writeln!(
        o,
        "# HELP {name} Requests refused, by reason.\n# TYPE {name} counter"
    );
    for r in Reason::ALL {
        let _ = writeln!(
            o,
            "{name}{{reason=\"{}\"}} {}",
            r.code(),
            relay.metrics.rejected(r)
        );
    }
    let ct = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, ct)], o).into_response()
}
