//! The broker intake of `serve --broker`: every accepted event is published to its account's
//! queue (persistent, publisher-confirmed) before the 202 goes out; nothing is processed here
//! (`eventbench worker` does that). A broker that is unreachable or does not confirm earns a
//! 503 with `Retry-After`, never a 202. Requests reach it through the one router
//! (`api.rs`); this module owns its duplicate ids, its counters and its report. With a data
//! dir the accepted ids are also kept on disk ([`super::accepted_ids`]), so a 409 holds across
//! restarts.

use super::accepted_ids::AcceptedIds;
use super::metrics::{Metrics, Reason, Refusal, RETRY_AFTER_S};
use super::parse::Incoming;
use crate::broker::amqp::Message;
use crate::broker::confirm::{ConfirmError, ConfirmedPublisher};
use crate::report::stats::{Distribution, Percentiles};
use crate::sync::lock;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use std::collections::HashSet;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The relay's shared state behind every handler.
pub(crate) struct Relay {
    sink: Arc<ConfirmedPublisher>,
    /// Event ids accepted, or being published right now (a concurrent duplicate gets 409).
    seen: Mutex<HashSet<u64>>,
    /// The ids on disk (`--data-dir`), with those earlier processes accepted.
    ids: Option<AcceptedIds>,
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
pub(crate) struct RelayOutcome {
    pub eventbench_version: &'static str,
    /// The build that accepted the events (docs/REPORT.md, `build`).
    pub build: crate::build_info::Build,
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
    /// Where the accepted ids are kept (absent with `--in-memory`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// What a start with `--accept-data-loss` found missing from the data dir (as in a
    /// `serve` report); absent when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<crate::report::DataLoss>,
}

impl Relay {
    pub(crate) fn new(sink: Arc<ConfirmedPublisher>, ids: Option<AcceptedIds>) -> Self {
        Relay {
            sink,
            seen: Mutex::new(HashSet::new()),
            ids,
            metrics: Metrics::default(),
            closing: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            confirm_us: Mutex::new(Distribution::default()),
            started: Instant::now(),
            first_accept: AtomicU64::new(u64::MAX),
            last_accept: AtomicU64::new(0),
        }
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// From now on every request is refused with 503: the server is draining.
    pub(crate) fn begin_shutdown(&self) {
        self.closing.store(true, Relaxed);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

    /// Publishes the event and waits for the broker's confirm; the 202 body, or why not.
    pub(crate) async fn publish(
        self: &Arc<Self>,
        incoming: Incoming,
        arrived: Instant,
    ) -> Result<String, Refusal> {
        let id = incoming.event.0;
        let before = self.ids.as_ref().is_some_and(|d| d.accepted_before(id));
        if before || !lock(&self.seen).insert(id) {
            return Err(Refusal::duplicate(id));
        }
        let msg = Message {
            event_id: id,
            account_id: incoming.account.0,
            duration_us: incoming.duration.map(|d| d.0),
        };
        // Its own task: a client that hangs up mid-publish must not cancel the publish half-way
        // and leave its id marked as accepted (a retry would then get 409 for a lost event).
        let publishing = Arc::clone(self);
        let published = tokio::spawn(async move {
            let result = publishing.publish_and_record(&msg).await;
            if result.is_err() {
                // Not accepted: the client may send it again.
                lock(&publishing.seen).remove(&msg.event_id);
            }
            result
        })
        .await;
        match published {
            Ok(Ok(())) => Ok(self.accepted(arrived, &msg)),
            Ok(Err(refusal)) => Err(refusal),
            Err(_) => Err(Refusal::new(
                Reason::BrokerUnavailable,
                "the publish task failed".to_string(),
            )),
        }
    }

    /// Publishes, waits for the confirm, then (with a data dir) for the id to be on disk.
    async fn publish_and_record(&self, msg: &Message) -> Result<(), Refusal> {
        let text = match self.sink.publish(msg).await {
            Ok(()) => None,
            Err(e @ ConfirmError::Unavailable) => {
                Some(format!("{e}; retry after {RETRY_AFTER_S} s"))
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(text) = text {
            return Err(Refusal::new(Reason::BrokerUnavailable, text));
        }
        if let Some(ids) = &self.ids {
            // Published but not remembered: refused, so the retry publishes it again (a
            // duplicate in the queue) rather than a later 409 hiding a lost id.
            ids.record(msg.event_id)
                .await
                .map_err(|e| Refusal::new(Reason::StorageFailed, e.to_string()))?;
        }
        Ok(())
    }

    fn accepted(&self, arrived: Instant, msg: &Message) -> String {
        let now = self.started.elapsed().as_micros() as u64;
        self.first_accept.fetch_min(now, Relaxed);
        self.last_accept.fetch_max(now, Relaxed);
        let sequence = self.accepted.fetch_add(1, Relaxed);
        lock(&self.confirm_us).record(arrived.elapsed().as_micros() as u64);
        let topo = self.sink.topology();
        let queue = topo.queue_of(crate::types::AccountId(msg.account_id));
        format!(
            r#"{{"status":"accepted","event_id":{},"account_id":{},"sequence":{sequence},"queue":"{}.{queue}","confirmed":true}}"#,
            msg.event_id, msg.account_id, topo.prefix
        )
    }

    /// `GET /healthz`: 503 while the broker connection is down.
    pub(crate) fn health(&self) -> (StatusCode, serde_json::Value) {
        let status = match (self.is_closing(), self.sink.is_up()) {
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
            "accepted": self.accepted.load(Relaxed),
        });
        (code, body)
    }

    /// `GET /metrics` in the Prometheus text format.
    pub(crate) fn exposition(&self) -> String {
        let mut o = String::with_capacity(2048);
        let name = "eventbench_events_accepted_total";
        let _ = writeln!(
            o,
            "# HELP {name} Events accepted (202), each confirmed by RabbitMQ.\n# TYPE {name} counter\n{name} {}",
            self.accepted.load(Relaxed)
        );
        let name = "eventbench_broker_up";
        let _ = writeln!(
            o,
            "# HELP {name} 1 while the connection to RabbitMQ is open.\n# TYPE {name} gauge\n{name} {}",
            u8::from(self.sink.is_up())
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
                self.metrics.rejected(r)
            );
        }
        o
    }

    /// The report of a relay whose every request was answered.
    pub(crate) fn outcome(&self) -> RelayOutcome {
        let t = self.sink.topology();
        let accepted = self.accepted.load(Relaxed);
        let first = self.first_accept.load(Relaxed);
        let span_us = self.last_accept.load(Relaxed).saturating_sub(first);
        let accept_time_s = if accepted > 0 {
            span_us as f64 / 1e6
        } else {
            0.0
        };
        RelayOutcome {
            eventbench_version: env!("CARGO_PKG_VERSION"),
            build: crate::build_info::Build::current(),
            mode: "broker",
            broker: t.display_url(),
            queues: t.queues,
            queue_prefix: t.prefix.clone(),
            accepted,
            rejected: self.metrics.rejected_total(),
            broker_unavailable: self.metrics.rejected(Reason::BrokerUnavailable),
            duplicates: self.metrics.rejected(Reason::Duplicate),
            accept_time_s,
            accept_rate_eps: if accept_time_s > 0.0 {
                accepted.saturating_sub(1) as f64 / accept_time_s
            } else {
                0.0
            },
            confirm_latency_us: lock(&self.confirm_us).percentiles(),
            data_dir: self
                .ids
                .as_ref()
                .map(|d| d.data_dir().display().to_string()),
            data_loss: self.ids.as_ref().and_then(|d| d.data_loss()).cloned(),
        }
    }

    /// Closes the data dir's store once every request was answered.
    pub(crate) fn close_ids(&self) -> Result<(), super::store::StoreError> {
        self.ids.as_ref().map_or(Ok(()), AcceptedIds::close)
    }
}
