//! The `http:` client against a real hyper server on port 0.

use super::*;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use hyper::body::Incoming;
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn job(event: u64, account: u64) -> Job {
    Job {
        index: EventIdx(0),
        event: EventId(event),
        account: AccountId(account),
        duration: Micros(0),
    }
}

/// What the test server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    host: String,
    content_type: String,
    authorization: Option<String>,
    body: String,
}

/// How the test server answers: by event id, a status and a body, or never.
type Answer = fn(u64) -> Option<(u16, &'static str)>;

#[derive(Clone, Default)]
struct Log {
    accepted: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A server on port 0; `keep_alive: false` closes every connection after one answer.
async fn server(answer: Answer, keep_alive: bool) -> (String, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let l = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            l.accepted.fetch_add(1, SeqCst);
            let l = l.clone();
            let service = service_fn(move |req: Request<Incoming>| respond(req, l.clone(), answer));
            tokio::spawn(async move {
                let _ = server::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), log)
}

async fn respond(
    req: Request<Incoming>,
    log: Log,
    answer: Answer,
) -> Result<Response<String>, Infallible> {
    let header = |name| {
        req.headers()
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap().to_string())
    };
    let mut seen = Seen {
        method: req.method().to_string(),
        target: req.uri().to_string(),
        host: header(hyper::header::HOST).unwrap_or_default(),
        content_type: header(hyper::header::CONTENT_TYPE).unwrap_or_default(),
        authorization: header(hyper::header::AUTHORIZATION),
        body: String::new(),
    };
    seen.body = collect(req.into_body()).await;
    let v: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    let event = v["event_id"].as_u64().unwrap();
    lock(&log.seen).push(seen);
    match answer(event) {
        Some((status, body)) => {
            let mut r = Response::new(body.to_string());
            *r.status_mut() = StatusCode::from_u16(status).unwrap();
            Ok(r)
        }
        None => std::future::pending().await,
    }
}

async fn collect(mut body: Incoming) -> String {
    use hyper::body::Body;
    let mut out = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Ok(data) = frame.unwrap().into_data() {
            out.extend_from_slice(&data);
        }
    }
    String::from_utf8(out).unwrap()
}

fn handler(url: &str) -> HttpHandler {
    HttpHandler::new(url.parse().unwrap())
}

#[tokio::test]
async fn a_2xx_is_success_and_the_request_is_the_documented_post() {
    let (base, log) = server(|_| Some((204, "")), true).await;
    let h = handler(&format!("{base}/event?src=test"));
    h.call(&job(4242, 17)).await.unwrap();
    let seen = lock(&log.seen)[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/event?src=test");
    assert_eq!(seen.host, base.trim_start_matches("http://"));
    assert_eq!(seen.content_type, "application/json");
    assert_eq!(seen.authorization, None);
    assert_eq!(seen.body, r#"{"account_id":17,"event_id":4242}"#);
}

#[tokio::test]
async fn a_non_2xx_is_a_failure_naming_the_status_and_keeps_the_connection() {
    let (base, log) = server(
        |e| Some(if e == 1 { (500, "boom") } else { (200, "ok") }),
        true,
    )
    .await;
    let h = handler(&format!("{base}/event"));
    assert_eq!(
        h.call(&job(1, 1)).await.unwrap_err(),
        "HTTP 500 Internal Server Error"
    );
    h.call(&job(2, 1)).await.unwrap();
    assert_eq!(
        log.accepted.load(SeqCst),
        1,
        "the 500 closed the connection"
    );
}

#[tokio::test]
async fn connection_refused_names_the_url_and_the_cause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/event");
    let e = handler(&url).call(&job(1, 1)).await.unwrap_err();
    assert!(
        e.starts_with(&format!("POST {url}: cannot connect to ")),
        "{e}"
    );
    assert!(e.to_lowercase().contains("refused"), "{e}");
}

#[tokio::test]
async fn sequential_calls_reuse_one_connection_and_concurrent_ones_share_a_few() {
    let (base, log) = server(|_| Some((200, "a body to read to its end")), true).await;
    let h = Arc::new(handler(&format!("{base}/event")));
    for e in 1..=20 {
        h.call(&job(e, 1)).await.unwrap();
    }
    assert_eq!(log.accepted.load(SeqCst), 1);
    assert_eq!(h.idle_count(), 1);
    for round in 0..3 {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let h = Arc::clone(&h);
                tokio::spawn(async move { h.call(&job(100 + round * 8 + i, i)).await })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
    }
    assert!(log.accepted.load(SeqCst) <= 8, "{:?}", log.accepted);
    assert_eq!(h.idle_count(), log.accepted.load(SeqCst));
    assert_eq!(lock(&log.seen).len(), 44);
}

#[tokio::test]
async fn a_server_closing_its_connections_costs_a_reconnect_not_a_failure() {
    let (base, log) = server(|_| Some((204, "")), false).await;
    let h = handler(&format!("{base}/event"));
    for e in 1..=5 {
        h.call(&job(e, 1)).await.unwrap();
    }
    assert_eq!(log.accepted.load(SeqCst), 5);
    assert_eq!(lock(&log.seen).len(), 5, "a request was sent twice");
}

#[tokio::test]
async fn an_abandoned_call_drops_its_connection() {
    // Event 1 is never answered: its call is abandoned the way --handler-timeout does it.
    let (base, log) = server(|e| (e != 1).then_some((204, "")), true).await;
    let h = handler(&format!("{base}/event"));
    h.call(&job(2, 1)).await.unwrap();
    let slow = tokio::time::timeout(Duration::from_millis(50), h.call(&job(1, 1))).await;
    assert!(slow.is_err(), "an unanswered call completed");
    assert_eq!(
        h.idle_count(),
        0,
        "the abandoned connection went back to the pool"
    );
    h.call(&job(3, 1)).await.unwrap();
    assert_eq!(log.accepted.load(SeqCst), 2);
}

#[tokio::test]
async fn credentials_in_the_url_become_basic_auth() {
    let (base, log) = server(|_| Some((204, "")), true).await;
    let url = base.replace("http://", "http://ev%40nt:p%3Ass@");
    handler(&format!("{url}/event"))
        .call(&job(1, 1))
        .await
        .unwrap();
    let seen = lock(&log.seen)[0].clone();
    // base64("ev@nt:p:ss")
    assert_eq!(
        seen.authorization.as_deref(),
        Some("Basic ZXZAbnQ6cDpzcw==")
    );
    assert_eq!(seen.host, base.trim_start_matches("http://"));
}

#[test]
fn only_plain_http_urls_with_a_host_pass() {
    assert!("http://127.0.0.1:8080/x".parse::<Target>().is_ok());
    assert!("https://example.com"
        .parse::<Target>()
        .unwrap_err()
        .contains("https"));
    assert!("ftp://example.com".parse::<Target>().is_err());
    assert!("not a url".parse::<Target>().is_err());
}

/// The handler and `send --url` share `http_url::parse`; this checks the handler uses it and
/// that its message names the URL as the user wrote it.
#[test]
fn a_malformed_authority_is_refused_not_guessed() {
    let e = "http://127.0.0.1:/x".parse::<Target>().unwrap_err();
    assert!(e.starts_with("http:http://127.0.0.1:/x: "), "{e}");
    assert!(e.contains("port after ':' is empty"), "{e}");
    for raw in [
        "http://h:70000/",
        "http://h:8o/",
        "http:///h",
        "http://:80/",
    ] {
        assert!(raw.parse::<Target>().is_err(), "{raw}");
    }
    let spec: crate::handler::HandlerSpec = "http:http://[::1]:80/x".parse().unwrap();
    assert_eq!(spec.to_string(), "http:http://[::1]/x");
}

#[test]
fn a_target_keeps_what_the_url_says_for_each_part() {
    let t: Target = "http://[::1]:8080/a/b?c=d#frag".parse().unwrap();
    let p = &t.parts;
    assert_eq!((p.host.as_str(), p.port), ("::1", 8080));
    assert_eq!(p.authority, "[::1]:8080");
    assert_eq!(p.path, "/a/b?c=d");
    let t: Target = "http://localhost".parse().unwrap();
    let p = &t.parts;
    assert_eq!((p.host.as_str(), p.port), ("localhost", 80));
    assert_eq!(p.authority, "localhost");
    assert_eq!(p.path, "/");
    assert_eq!(t.to_string(), "http://localhost/");
}
