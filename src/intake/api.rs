//! The HTTP surface of every kind of intake: one router, its status codes and JSON bodies.
//! Where an accepted event goes is the [`Target`] chosen at start: the in-process engine (in
//! memory or behind the durable queue) or RabbitMQ. Every refusal answers with a JSON error
//! body and is counted by reason; nothing is dropped silently.

use super::admit::{Accepted, Intake};
use super::broker::Relay;
use super::gate::BodyCut;
use super::metrics::{Metrics, Reason, Refusal, RETRY_AFTER_S};
use super::origin::Origins;
use super::parse::{self, Incoming, MAX_BODY};
use crate::token::Token;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::extract::{FromRef, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// Where accepted events go, chosen at start.
#[derive(Clone)]
pub(crate) enum Target {
    /// The in-process engine, fed directly (`--in-memory`) or through the durable queue.
    Engine(Arc<Intake>),
    /// RabbitMQ (`serve --broker`): published and confirmed before the 202.
    Broker(Arc<Relay>),
}

impl Target {
    fn metrics(&self) -> &Metrics {
        match self {
            Target::Engine(i) => i.metrics(),
            Target::Broker(r) => r.metrics(),
        }
    }

    fn is_closing(&self) -> bool {
        match self {
            Target::Engine(i) => i.is_closing(),
            Target::Broker(r) => r.is_closing(),
        }
    }

    /// What a 404 lists: the engine's server also mounts the dashboard.
    fn routes(&self) -> &'static str {
        match self {
            Target::Engine(_) => {
                "no such route; POST /api, GET /healthz, GET /metrics, GET / (dashboard), GET /api/stats"
            }
            Target::Broker(_) => "no such route; POST /api, GET /healthz, GET /metrics",
        }
    }

    /// Hands a parsed event on; the 202 body, or why it was not accepted.
    async fn accept(&self, incoming: Incoming, arrived: Instant) -> Result<String, Refusal> {
        let intake = match self {
            Target::Broker(r) => return r.publish(incoming, arrived).await,
            Target::Engine(i) => i,
        };
        match intake.admit(incoming).await {
            // Hand-formatted: this is the hot path, and every field is a plain number.
            Ok(Accepted { sequence, queued }) => Ok(format!(
                r#"{{"status":"accepted","event_id":{},"account_id":{},"sequence":{sequence},"queue_position":{queued}}}"#,
                incoming.event.0, incoming.account.0
            )),
            Err(Reason::Duplicate) => Err(Refusal::duplicate(incoming.event.0)),
            Err(reason @ Reason::QueueFull) => Err(Refusal::new(
                reason,
                format!("the queue is full; retry after {RETRY_AFTER_S} s"),
            )),
            Err(reason @ Reason::StorageFailed) => Err(Refusal::new(
                reason,
                "the event could not be written to disk, so it was not accepted",
            )),
            Err(reason) => Err(Refusal::new(reason, "the server is shutting down")),
        }
    }

    fn health(&self) -> (StatusCode, serde_json::Value) {
        let intake = match self {
            Target::Broker(r) => return r.health(),
            Target::Engine(i) => i,
        };
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
        (StatusCode::OK, body)
    }

    fn exposition(&self) -> String {
        let intake = match self {
            Target::Broker(r) => return r.exposition(),
            Target::Engine(i) => i,
        };
        let mut text = intake.metrics().render(intake.engine().counters());
        if let Some(d) = intake.durable() {
            durable_metrics(&mut text, &d.stats());
        }
        text
    }
}

/// The router's state: the target, and the web pages that may post besides the server's own.
#[derive(Clone)]
struct Api {
    target: Target,
    origins: Arc<Origins>,
}

impl FromRef<Api> for Target {
    fn from_ref(api: &Api) -> Target {
        api.target.clone()
    }
}

/// The routes of `serve`, whatever the target.
pub(crate) fn router(target: Target, origins: Origins) -> Router {
    let api = Api {
        target,
        origins: Arc::new(origins),
    };
    Router::new()
        .route("/api", post(post_event).fallback(not_allowed_post))
        .route("/healthz", get(healthz).fallback(not_allowed_get))
        .route("/metrics", get(metrics).fallback(not_allowed_get))
        .fallback(not_found)
        .with_state(api)
}

/// With `--token-file`, every route of `router` but `GET /healthz` (and the dashboard's empty
/// icon) needs the token: as
/// `Authorization: Bearer <token>`, or, for a `GET` (the dashboard page in a browser, which
/// forwards it to its own requests), as the query parameter `token`.
pub(crate) fn guarded(router: Router, target: Target, token: Option<Token>) -> Router {
    match token {
        Some(token) => router.layer(middleware::from_fn_with_state((target, token), authorize)),
        None => router,
    }
}

async fn authorize(
    State((target, token)): State<(Target, Token)>,
    req: Request,
    next: Next,
) -> Response {
    // A browser asks for the icon without the page's query: its empty answer says nothing,
    // and a 401 would be an error in the page's console.
    let open = matches!(req.uri().path(), "/healthz" | "/favicon.ico");
    let by_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| token.authorizes(v.as_bytes()));
    let by_query = req.method() == Method::GET
        && url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .any(|(k, v)| k == "token" && token.matches(v.as_bytes()));
    if open || by_header || by_query {
        return next.run(req).await;
    }
    let message = "this server needs its token: Authorization: Bearer <token> (send --token-file)";
    refuse(&target, Refusal::new(Reason::Unauthorized, message))
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
        Reason::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        Reason::CrossSite => StatusCode::FORBIDDEN,
        Reason::Unauthorized => StatusCode::UNAUTHORIZED,
        Reason::QueueFull
        | Reason::ShuttingDown
        | Reason::StorageFailed
        | Reason::BrokerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A JSON error response; callers count the rejection.
fn error(reason: Reason, message: &str) -> Response {
    let mut resp = crate::web::json_error(status_of(reason), reason.code(), message);
    let headers = resp.headers_mut();
    match reason {
        Reason::QueueFull | Reason::StorageFailed | Reason::BrokerUnavailable => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
        }
        // The rest of the body may still come: the connection cannot carry another request.
        Reason::ShuttingDown | Reason::BodyTimeout => {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Reason::Unauthorized => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
    resp
}

fn refuse(target: &Target, refusal: Refusal) -> Response {
    target.metrics().reject(refusal.reason);
    error(refusal.reason, &refusal.message)
}

async fn not_allowed_post(State(target): State<Target>) -> Response {
    not_allowed(&target, "POST")
}

async fn not_allowed_get(State(target): State<Target>) -> Response {
    not_allowed(&target, "GET, HEAD")
}

fn not_allowed(target: &Target, allow: &'static str) -> Response {
    target.metrics().reject(Reason::MethodNotAllowed);
    crate::web::method_not_allowed(allow)
}

async fn not_found(State(target): State<Target>) -> Response {
    refuse(&target, Refusal::new(Reason::NotFound, target.routes()))
}

async fn post_event(State(api): State<Api>, headers: HeaderMap, body: Body) -> Response {
    let arrived = Instant::now();
    let target = api.target;
    // Before the body is read: a foreign page's request is not even parsed.
    if let Some(why) = api.origins.judge(&headers) {
        return refuse(&target, Refusal::new(Reason::CrossSite, why));
    }
    if target.is_closing() {
        let refusal = Refusal::new(Reason::ShuttingDown, "the server is shutting down");
        return refuse(&target, refusal);
    }
    let incoming = match read_event(&headers, body).await {
        Ok(e) => e,
        Err(refusal) => return refuse(&target, refusal),
    };
    match target.accept(incoming, arrived).await {
        Ok(body) => {
            let ct = HeaderValue::from_static("application/json");
            (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Err(refusal) => refuse(&target, refusal),
    }
}

/// The event a request carries: its content type, then its body, then the fields.
async fn read_event(headers: &HeaderMap, body: Body) -> Result<Incoming, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let encoding = parse::encoding(content_type)?;
    let bytes = read_body(headers, body).await?;
    parse::event(encoding, &bytes)
}

/// Reads the body up to [`MAX_BODY`]; a declared or actual larger body is refused unread.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let too_large = || Refusal {
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
        let chunk = chunk.map_err(unreadable)?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Why a body could not be read: cut off by the connection's deadline or the shutdown
/// ([`BodyCut`]), or broken on the wire.
fn unreadable(e: axum::Error) -> Refusal {
    // The cut arrives wrapped once per body adapter between the guard and here.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut cut = None;
    while let Some(c) = cause {
        cut = c.downcast_ref::<BodyCut>();
        if cut.is_some() {
            break;
        }
        cause = c.source();
    }
    match cut {
        Some(cut @ BodyCut::TimedOut(_)) => Refusal::new(Reason::BodyTimeout, cut.to_string()),
        Some(BodyCut::Closing) => Refusal::new(
            Reason::ShuttingDown,
            "the server is shutting down; the body was not read to its end",
        ),
        None => Refusal::new(Reason::BadRequest, format!("cannot read the body: {e}")),
    }
}

async fn healthz(State(target): State<Target>) -> Response {
    let (status, body) = target.health();
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(target): State<Target>) -> Response {
    let text = target.exposition();
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
