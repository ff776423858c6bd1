//! Why a request is refused ([`Reason`], [`Refusal`]) and what `GET /metrics` shows: rejection
//! counters, the event latency histogram, and their rendering in the Prometheus text format
//! (the engine's own counters are read live).

use crate::engine::real::Counters;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a request was refused; each reason is one label value of the rejection counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    BadRequest,
    InvalidValue,
    UnsupportedMediaType,
    MethodNotAllowed,
    NotFound,
    Duplicate,
    TooLarge,
    /// The body did not arrive within `--body-timeout` of its header.
    BodyTimeout,
    /// A browser sent it from another site's page (`Origin`, `Sec-Fetch-Site`).
    CrossSite,
    /// `--token-file` is set and the request did not carry the token.
    Unauthorized,
    QueueFull,
    ShuttingDown,
    /// The durable queue could not write the event (disk full, I/O error).
    StorageFailed,
    /// `serve --broker`: RabbitMQ is unreachable or did not confirm the event.
    BrokerUnavailable,
}

impl Reason {
    pub(crate) const ALL: [Reason; 14] = [
        Reason::BadRequest,
        Reason::InvalidValue,
        Reason::UnsupportedMediaType,
        Reason::MethodNotAllowed,
        Reason::NotFound,
        Reason::Duplicate,
        Reason::TooLarge,
        Reason::BodyTimeout,
        Reason::CrossSite,
        Reason::Unauthorized,
        Reason::QueueFull,
        Reason::ShuttingDown,
        Reason::StorageFailed,
        Reason::BrokerUnavailable,
    ];

    /// The machine-readable name: the `error` field of error bodies and the metric label.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Reason::BadRequest => "bad_request",
            Reason::InvalidValue => "invalid_value",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::NotFound => "not_found",
            Reason::Duplicate => "duplicate_event",
            Reason::TooLarge => "body_too_large",
            Reason::BodyTimeout => "body_timeout",
            Reason::CrossSite => "cross_site",
            Reason::Unauthorized => "unauthorized",
            Reason::QueueFull => "queue_full",
            Reason::ShuttingDown => "shutting_down",
            Reason::StorageFailed => "storage_failed",
            Reason::BrokerUnavailable => "broker_unavailable",
        }
    }
}

/// How long a client told "queue full" or "broker unavailable" should wait before retrying,
/// in seconds.
pub(crate) const RETRY_AFTER_S: &str = "1";

/// A refused request: the reason (status code and counter label) and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub reason: Reason,
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(reason: Reason, message: impl Into<String>) -> Self {
        Refusal {
            reason,
            message: message.into(),
        }
    }

    /// The answer to an event id accepted before, whatever the intake.
    pub(crate) fn duplicate(event: u64) -> Self {
        Refusal::new(
            Reason::Duplicate,
            format!("event {event} was already accepted; it is not queued twice"),
        )
    }
}

/// Upper bounds of the latency buckets, in microseconds (1 ms .. 60 s, then +Inf).
const BUCKETS_US: [u64; 14] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 60_000_000,
];

/// Counters that only the server knows about; lock-free so request handlers never wait.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    rejected: [AtomicU64; Reason::ALL.len()],
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
}

impl Metrics {
    pub(crate) fn reject(&self, reason: Reason) {
        self.rejected[reason as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn rejected(&self, reason: Reason) -> u64 {
        self.rejected[reason as usize].load(Relaxed)
    }

    pub(crate) fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Records one processed event's latency (arrival at the server to end of processing).
    pub(crate) fn observe_latency(&self, us: u64) {
        let i = BUCKETS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(us, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format version 0.0.4).
    pub(crate) fn render(&self, engine: &Counters) -> String {
        let mut o = String::with_capacity(4096);
        let c = |o: &mut String, name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        let accepted = engine.arrived.load(Relaxed);
        c(
            &mut o,
            "eventbench_events_accepted_total",
            "counter",
            "Events accepted (202).",
            accepted,
        );
        let processed = engine.finished.load(Relaxed);
        c(
            &mut o,
            "eventbench_events_processed_total",
            "counter",
            "Events whose handler returned.",
            processed,
        );
        c(
            &mut o,
            "eventbench_events_queued",
            "gauge",
            "Events accepted and not started yet.",
            engine.queued(),
        );
        let in_flight = engine.in_flight.load(Relaxed);
        c(
            &mut o,
            "eventbench_events_in_flight",
            "gauge",
            "Events being processed now.",
            in_flight,
        );
        // Live order is enforced by construction; the proof runs over the full log at shutdown.
        c(
            &mut o,
            "eventbench_ordering_violations",
            "gauge",
            "Ordering violations seen so far (verified in full at shutdown).",
            0,
        );
        let name = "eventbench_requests_rejected_total";
        let _ = writeln!(
            o,
            "# HELP {name} Requests refused, by reason.\n# TYPE {name} counter"
        );
        for r in Reason::ALL {
            let _ = writeln!(o, "{name}{{reason=\"{}\"}} {}", r.code(), self.rejected(r));
        }
        self.render_latency(&mut o);
        o
    }

    fn render_latency(&self, o: &mut String) {
        let name = "eventbench_event_latency_seconds";
        let _ = writeln!(
            o,
            "# HELP {name} From arrival at the server to the end of processing.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Relaxed);
            match BUCKETS_US.get(i) {
                Some(&le) => {
                    let _ = writeln!(
                        o,
                        "{name}_bucket{{le=\"{}\"}} {cumulative}",
                        le as f64 / 1e6
                    );
                }
                None => {
                    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.latency_sum_us.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(o, "{name}_sum {sum}");
        let _ = writeln!(o, "{name}_count {}", self.latency_count.load(Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_latency(800);
        m.observe_latency(1_000);
        m.observe_latency(3_000);
        m.observe_latency(90_000_000);
        m.reject(Reason::QueueFull);
        let text = m.render(&Counters::default());
        assert!(text.contains("eventbench_event_latency_seconds_bucket{le=\"0.001\"} 2"));
        assert!(text.contains("eventbench_event_latency_seconds_bucket{le=\"0.005\"} 3"));
        assert!(text.contains("eventbench_event_latency_seconds_bucket{le=\"+Inf\"} 4"));
        assert!(text.contains("eventbench_requests_rejected_total{reason=\"queue_full\"} 1"));
        assert_eq!(m.rejected_total(), 1);
    }
}
