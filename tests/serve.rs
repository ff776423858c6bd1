//! The web API end to end: a server on port 0 with an injected shutdown, real HTTP requests,
//! every status code, the metrics, and the drain (with and without a hand-back).

mod common;

use common::eventbench;
use common::server::Running;
use eventbench::intake::{Config, ServeOutcome};
use eventbench::types::Micros;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

fn config(process_time_ms: u64) -> Config {
    common::server::config(Micros(process_time_ms * 1_000))
}

/// Asserts the status and that the body is a JSON error naming `code`.
async fn assert_error(resp: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
}

fn processed(o: &ServeOutcome) -> usize {
    o.workload
        .indexes()
        .filter(|&e| o.execution.records.get(e).is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_form_events_are_accepted_with_their_position() {
    let s = Running::start(config(10)).await;
    let resp = s.event(1, 7).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["sequence"], 0);
    assert!(body["queue_position"].is_u64());
    let form = s
        .http
        .post(format!("{}/api", s.base))
        .form(&[("account_id", "7"), ("event_id", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::ACCEPTED);
    let body: Value = form.json().await.unwrap();
    assert_eq!(body["sequence"], 1);
    let o = s.shutdown().await;
    assert_eq!(o.workload.len(), 2);
    assert_eq!(processed(&o), 2);
    assert!(o.leftover.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_and_leave_the_server_unharmed() {
    let s = Running::start(config(1)).await;
    let cases = [
        (
            r#"{"account_id": 1,"#,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            r#"{"account_id": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            r#"{"account_id": -1, "event_id": 5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            r#"{"account_id": 1.5, "event_id": 5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            r#"{"account_id": "abc", "event_id": 5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            r#"[1, 5]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
    ];
    for (body, status, code) in cases {
        assert_error(s.post_json(body).await, status, code).await;
    }
    let form = s
        .http
        .post(format!("{}/api", s.base))
        .form(&[("account_id", "-3"), ("event_id", "5")])
        .send()
        .await
        .unwrap();
    assert_error(form, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value").await;
    let text = s
        .http
        .post(format!("{}/api", s.base))
        .header("content-type", "text/plain")
        .body("account_id=1&event_id=5")
        .send()
        .await
        .unwrap();
    assert_error(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let none = s
        .http
        .post(format!("{}/api", s.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_error(
        none,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Still serving, and event 5 was never taken by any of the refused requests.
    assert_eq!(s.event(5, 1).await.status(), StatusCode::ACCEPTED);
    let o = s.shutdown().await;
    assert_eq!(o.workload.len(), 1);
    assert_eq!(o.rejected, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_get_405_with_allow() {
    let s = Running::start(config(1)).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let resp = s
            .http
            .request(method, format!("{}/api", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["allow"], "POST");
        assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
    let resp = s
        .http
        .post(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let missing = s.get("/nope").await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_id_is_a_409_not_a_second_event() {
    let s = Running::start(config(1)).await;
    assert_eq!(s.event(42, 1).await.status(), StatusCode::ACCEPTED);
    assert_error(
        s.event(42, 1).await,
        StatusCode::CONFLICT,
        "duplicate_event",
    )
    .await;
    assert_error(
        s.event(42, 2).await,
        StatusCode::CONFLICT,
        "duplicate_event",
    )
    .await;
    let o = s.shutdown().await;
    assert_eq!(o.workload.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_64_kib_is_a_413() {
    let s = Running::start(config(1)).await;
    let padding = " ".repeat(64 * 1024);
    let body = format!(r#"{{"event_id":1,"account_id":1}}{padding}"#);
    assert_error(
        s.post_json(&body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;
    // Without a Content-Length (chunked) the limit still holds while streaming.
    let mut tcp = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = "POST /api HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let request = format!("{head}{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
    let o = s.shutdown().await;
    assert_eq!(o.workload.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_a_503_with_retry_after_and_nothing_is_lost() {
    let mut c = config(200);
    c.lanes = Some(1);
    c.max_queued = Some(1);
    let s = Running::start(c).await;
    // The first starts at once (one lane), the second waits, the third finds the queue full.
    assert_eq!(s.event(1, 1).await.status(), StatusCode::ACCEPTED);
    assert_eq!(s.event(2, 2).await.status(), StatusCode::ACCEPTED);
    let full = s.event(3, 3).await;
    assert_eq!(full.headers()["retry-after"], "1");
    assert_error(full, StatusCode::SERVICE_UNAVAILABLE, "queue_full").await;
    let metrics = s.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("eventbench_requests_rejected_total{reason=\"queue_full\"} 1"));
    let o = s.shutdown().await;
    assert_eq!((o.workload.len(), processed(&o)), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_report_the_live_counters() {
    let s = Running::start(config(1)).await;
    let health: Value = s.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    for i in 1..=3 {
        assert_eq!(s.event(i, 9).await.status(), StatusCode::ACCEPTED);
    }
    s.post_json("{").await;
    let resp = s.get("/metrics").await;
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = resp.text().await.unwrap();
    for needle in [
        "# TYPE eventbench_events_accepted_total counter",
        "eventbench_events_accepted_total 3",
        "eventbench_events_processed_total ",
        "eventbench_events_queued ",
        "eventbench_events_in_flight ",
        "eventbench_ordering_violations 0",
        "eventbench_requests_rejected_total{reason=\"bad_request\"} 1",
        "# TYPE eventbench_event_latency_seconds histogram",
        "eventbench_event_latency_seconds_bucket{le=\"+Inf\"} ",
        "eventbench_event_latency_seconds_count ",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let o = s.shutdown().await;
    assert_eq!(processed(&o), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_every_queued_event_in_order() {
    let mut c = config(10);
    c.lanes = Some(2);
    let s = Running::start(c).await;
    for i in 1..=30 {
        assert_eq!(s.event(i, i % 4).await.status(), StatusCode::ACCEPTED);
    }
    let o = s.shutdown().await;
    assert_eq!((o.workload.len(), processed(&o)), (30, 30));
    assert!(o.leftover.is_none());
    let v = eventbench::engine::verify::verify(&o.workload, &o.execution.records);
    assert!(v.passed(false), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_drain_timeout_the_unstarted_events_are_handed_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(100);
    c.lanes = Some(1);
    c.drain_timeout = Some(Duration::from_millis(1));
    c.leftover = dir.path().join("left.csv");
    let s = Running::start(c).await;
    for i in 1..=10 {
        assert_eq!(s.event(100 + i, i % 3).await.status(), StatusCode::ACCEPTED);
    }
    let o = s.shutdown().await;
    let left = o.leftover.as_ref().expect("events were still queued");
    let text = std::fs::read_to_string(&left.path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("event_id,account_id,duration_us"));
    let handed: Vec<u64> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    let unstarted: Vec<u64> = o
        .workload
        .indexes()
        .filter(|&e| o.execution.records.get(e).is_none())
        .map(|e| o.workload.event_id(e).0)
        .collect();
    assert!(!handed.is_empty());
    assert_eq!(handed, unstarted);
    assert_eq!(left.events, handed.len());
    assert_eq!(
        processed(&o) + handed.len(),
        10,
        "every accepted event is accounted for"
    );
    assert!(o.execution.interrupted);
    // The hand-back is a valid events CSV, loadable by `run --input`.
    let again = eventbench::workload::csv::load(&left.path, Micros(1)).unwrap();
    assert_eq!(again.len(), handed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_shutdown_are_refused_not_dropped() {
    let s = Running::start(config(1)).await;
    let base = s.base.clone();
    assert_eq!(s.event(1, 1).await.status(), StatusCode::ACCEPTED);
    let o = s.shutdown().await;
    assert_eq!(processed(&o), 1);
    // The listener is closed: a client gets a connection error, never a silent 2xx.
    let late = reqwest::Client::new()
        .post(format!("{base}/api"))
        .header("content-type", "application/json")
        .body(r#"{"event_id":2,"account_id":1}"#)
        .send()
        .await;
    assert!(late.is_err() || late.unwrap().status() == StatusCode::SERVICE_UNAVAILABLE);
}

/// `serve --timer` reaches the engine: the report at shutdown names the timer, and no event
/// ended before its time with either.
#[test]
fn serve_ends_its_sleeps_as_timer_says_and_reports_it() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(30, 5, 3), None);
    for timer in ["sleep", "precise"] {
        let report = dir.path().join(format!("{timer}.json"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_eventbench"))
            .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--process-time", "2ms", "--timer", timer, "--json"])
            .arg(&report)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let addr = common::listening_address(&mut child);
        eventbench()
            .args(["send", "--quiet", "--url", &format!("http://{addr}/api")])
            .arg("--input")
            .arg(&input)
            .assert()
            .success();
        // SAFETY: kill only signals the child this test started.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        assert!(child.wait().unwrap().success());
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(r["events"], 30, "{r}");
        assert_eq!(r["ordering_violations"], 0);
        assert_eq!(r["short_handlers"], 0);
        assert_eq!(r["timer"], timer);
    }
}

#[test]
fn serving_sharded_with_auto_workers_is_a_usage_error() {
    eventbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--strategy", "sharded"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "sharded needs a number of workers",
        ));
}

#[tokio::test]
async fn the_dashboard_and_its_stats_follow_the_events() {
    let server = Running::start(config(0)).await;
    let page = server.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("api/stats"));
    let icon = server.get("/favicon.ico").await;
    assert_eq!(icon.status(), StatusCode::NO_CONTENT);
    for (event, account) in [(1, 7), (2, 8), (3, 7)] {
        assert_eq!(
            server.event(event, account).await.status(),
            StatusCode::ACCEPTED
        );
    }
    // Sampled every 250 ms: wait for a sample that has seen all three (never timed).
    let stats = loop {
        let s: Value = server.get("/api/stats").await.json().await.unwrap();
        if s["processed"] == 3 {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stats["mode"], "serve");
    assert_eq!(stats["accepted"], 3);
    assert_eq!(stats["queued"], 0);
    assert_eq!(
        stats["rejected"], 0,
        "the dashboard's own requests are not refusals"
    );
    assert_eq!(stats["hottest"], serde_json::json!([]));
    assert_eq!(stats["lower_bound_s"], Value::Null);
    assert!(!stats["history"]["t_s"].as_array().unwrap().is_empty());
    assert_eq!(processed(&server.shutdown().await), 3);
}
