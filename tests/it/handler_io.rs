//! What goes in and out of a real handler: `--handler http:` against a real HTTP server
//! (500s retried in place, a service that fails for good), `exec:` output kept in its own
//! file, and the handlers and flags refused before anything runs.

use super::handlers::{by_account, dead_letters};
use crate::common::{self, eventbench};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

#[test]
fn real_handlers_are_refused_where_they_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    common::write_events(&dir.path().join("events.csv"), &[1, 2], None);
    let refuse = |args: &[&str], why: &str| {
        let out = eventbench()
            .current_dir(dir.path())
            .args(["run", "--quiet", "--input", "events.csv"])
            .args(args)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{stderr}");
    };
    refuse(
        &["--clock", "virtual", "--handler", "exec:true"],
        "needs --clock real",
    );
    refuse(
        &["--handler", "exec:no-such-program-here"],
        "not found in PATH",
    );
    refuse(&["--handler", "exec:'oops"], "unbalanced quotes");
    refuse(
        &["--handler", "http:https://example.com"],
        "https is not supported",
    );
    refuse(
        &["--handler", "exec:true", "--handler-timeout", "0s"],
        "more than 0",
    );
}

#[test]
fn exec_output_goes_to_its_file_not_into_the_report() {
    let dir = tempfile::tempdir().unwrap();
    common::write_events(&dir.path().join("events.csv"), &[1, 2, 1], None);
    let report = run_json(
        dir.path(),
        &[
            "--handler",
            "exec:sh -c 'echo out {event_id}; echo err $EVENTBENCH_ACCOUNT_ID >&2'",
            "--handler-output",
            "handler.txt",
        ],
    );
    assert_eq!(report["handler_calls"], 3);
    let text = std::fs::read_to_string(dir.path().join("handler.txt")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["err 1", "err 1", "err 2", "out 1", "out 2", "out 3"]
    );
}

/// `run --quiet --input events.csv --format json` in `dir` with `args`, which must succeed;
/// the report it printed.
fn run_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = eventbench()
        .current_dir(dir)
        .args([
            "run",
            "--quiet",
            "--input",
            "events.csv",
            "--format",
            "json",
        ])
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The test HTTP service: answers 500 to the first try of every event whose id is a multiple
/// of 3, and records (account, event) of every success in arrival order.
#[derive(Clone, Default)]
struct Service {
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
}

/// Events answered 500 once, and (account, event) of every success in arrival order.
type Seen = (HashSet<u64>, Vec<(u64, u64)>);

async fn serve_events(
    axum::extract::State(svc): axum::extract::State<Service>,
    axum::Json(body): axum::Json<HashMap<String, u64>>,
) -> axum::http::StatusCode {
    let (account, event) = (body["account_id"], body["event_id"]);
    let mut s = svc.seen.lock().unwrap();
    if event % 3 == 0 && s.0.insert(event) {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    s.1.push((account, event));
    axum::http::StatusCode::NO_CONTENT
}

#[test]
fn http_handler_retries_500s_in_place() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let svc = Service::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/event", axum::routing::post(serve_events))
        .with_state(svc.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let accounts = common::accounts(150, 12, 3);
    common::write_events(&dir.path().join("events.csv"), &accounts, None);
    let report = run_json(
        dir.path(),
        &[
            "--workers",
            "8",
            "--handler",
            &format!("http:http://{addr}/event"),
            "--retries",
            "3",
            "--retry-backoff",
            "1ms",
        ],
    );
    assert_eq!(report["retries"], 50);
    assert_eq!(report["given_up"], 0);
    let got = svc.seen.lock().unwrap().1.clone();
    assert_eq!(got.len(), 150);
    let mut expected: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (e, a) in (1..).zip(accounts) {
        expected.entry(a).or_default().push(e);
    }
    assert_eq!(by_account(&got), expected);

    // A service that fails for good: every event is given up, with the status as the error.
    let report = run_json(
        dir.path(),
        &[
            "--handler",
            &format!("http:http://{addr}/nowhere"),
            "--dead-letter",
            "dead.csv",
            "--allow-failures",
        ],
    );
    assert_eq!(report["given_up"], 150);
    let dead = dead_letters(&dir.path().join("dead.csv"));
    assert!(
        dead.iter().all(|d| d.2 == "HTTP 404 Not Found"),
        "{:?}",
        dead[0]
    );
}

/// A retry or a dead-letter file means nothing to the sleep handler, which never fails: the
/// flag is refused rather than silently ignored.
#[test]
fn handler_only_flags_need_a_real_handler() {
    eventbench()
        .args(["run", "--clock", "virtual", "--retries", "2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--retries applies to exec: and http: handlers",
        ));
}
