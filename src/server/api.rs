//! The HTTP surface: routes, status codes and JSON bodies. Every refusal answers with a JSON
//! error body and is counted by reason; nothing is dropped silently.

use super::intake::{Accepted, Intake};
use super::metrics::Reason;
use super::parse::{self, BadInput, MAX_BODY};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;

/// How long a client told "queue full" should wait before retrying, in seconds.
pub(super) const RETRY_AFTER_S: &str = "1";

/// The routes of `serve`.
pub fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/api", post(post_event).fallback(not_allowed_post))
        .route("/healthz", get(healthz).fallback(not_allowed_get))
        .route("/metrics", get(metrics).fallback(not_allowed_get))
        .fallback(not_found)
        .with_state(intake)
}

fn status_of(reason: Reason) -> StatusCode {
    match reason {
        Reason::BadRequest => StatusCode::BAD_REQUEST,
        Reason::InvalidValue => StatusCode::UNPROCESSABLE_ENTITY,
        Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Reason::NotFound => StatusCode::NOT_FOUND,
        Reason::Duplicate => StatusCode::CONFLICT,
        Reason::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Reason::QueueFull
        | Reason::ShuttingDown
        | Reason::StorageFailed
        | Reason::BrokerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A JSON error response; callers count the rejection.
pub(super) fn error(reason: Reason, message: &str) -> Response {
    let mut resp = crate::web::json_error(status_of(reason), reason.code(), message);
    let headers = resp.headers_mut();
    match reason {
        Reason::QueueFull | Reason::StorageFailed | Reason::BrokerUnavailable => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
        }
        Reason::ShuttingDown => {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
    resp
}

fn refuse(intake: &Intake, bad: BadInput) -> Response {
    intake.metrics().reject(bad.reason);
    error(bad.reason, &bad.message)
}

async fn not_allowed_post(State(intake): State<Arc<Intake>>) -> Response {
    not_allowed(&intake, "POST")
}

async fn not_allowed_get(State(intake): State<Arc<Intake>>) -> Response {
    not_allowed(&intake, "GET, HEAD")
}

fn not_allowed(intake: &Intake, allow: &'static str) -> Response {
    intake.metrics().reject(Reason::MethodNotAllowed);
    crate::web::method_not_allowed(allow)
}

async fn not_found(State(intake): State<Arc<Intake>>) -> Response {
    intake.metrics().reject(Reason::NotFound);
    error(
        Reason::NotFound,
        "no such route; POST /api, GET /healthz, GET /metrics, GET / (dashboard), GET /api/stats",
    )
}

async fn post_event(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    if intake.is_closing() {
        intake.metrics().reject(Reason::ShuttingDown);
        return error(Reason::ShuttingDown, "the server is shutting down");
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let encoding = match parse::encoding(content_type) {
        Ok(e) => e,
        Err(bad) => return refuse(&intake, bad),
    };
    let bytes = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(bad) => return refuse(&intake, bad),
    };
    let incoming = match parse::event(encoding, &bytes) {
        Ok(e) => e,
        Err(bad) => return refuse(&intake, bad),
    };
    match intake.admit(incoming).await {
        Ok(Accepted { sequence, queued }) => {
            // Hand-formatted: this is the hot path, and every field is a plain number.
            let body = format!(
                r#"{{"status":"accepted","event_id":{},"account_id":{},"sequence":{sequence},"queue_position":{queued}}}"#,
                incoming.event.0, incoming.account.0
            );
            let ct = HeaderValue::from_static("application/json");
            (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Err(reason) => {
            intake.metrics().reject(reason);
            let message = match reason {
                Reason::Duplicate => format!(
                    "event {} was already accepted; it is not queued twice",
                    incoming.event.0
                ),
                Reason::QueueFull => format!("the queue is full; retry after {RETRY_AFTER_S} s"),
                Reason::StorageFailed => {
                    "the event could not be written to disk, so it was not accepted".to_string()
                }
                _ => "the server is shutting down".to_string(),
            };
            error(reason, &message)
        }
    }
}

/// Reads the body up to [`MAX_BODY`]; a declared or actual larger body is refused unread.
pub(super) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, BadInput> {
    let too_large = || BadInput {
        reason: Reason::TooLarge,
        message: format!("the body is larger than {MAX_BODY} bytes"),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.unwrap_or(256).min(MAX_BODY as u64) as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BadInput {
            reason: Reason::BadRequest,
            message: format!("cannot read the body: {e}"),
        })?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

async fn healthz(State(intake): State<Arc<Intake>>) -> Response {
    let c = intake.engine().counters();
    let status = if intake.is_closing() {
        "draining"
    } else {
        "ok"
    };
    let body = json!({
        "status": status,
        "accepted": c.arrived.load(std::sync::atomic::Ordering::Relaxed),
        "queued": c.queued(),
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn metrics(State(intake): State<Arc<Intake>>) -> Response {
    let mut text = intake.metrics().render(intake.engine().counters());
    if let Some(d) = intake.durable() {
        durable_metrics(&mut text, &d.stats());
    }
    let ct = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, ct)], text).into_response()
}

/// Group commit at work: events per commit is the point of it.
fn durable_metrics(out: &mut String, s: &super::committer::CommitStats) {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let lines = [
        (
            "eventbench_durable_commits_total",
            "Transactions synced to disk.",
            &s.commits,
        ),
        (
            "eventbench_durable_events_total",
            "Events made durable by them.",
            &s.events,
        ),
        (
            "eventbench_durable_commit_failures_total",
            "Transactions that failed; their events were refused with 503.",
            &s.failures,
        ),
    ];
    for (name, help, v) in lines {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Relaxed)
        );
    }
}
