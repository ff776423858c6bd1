//! The client side of the web API: `send` (closed and open model) keeps each account's
//! order against a real server on port 0, and `run --ingest http` runs the whole pipeline.

mod common;

use common::eventbench;
use common::server::{config, Running};
use eventbench::send;
use eventbench::types::Micros;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_client_keeps_each_accounts_order() {
    sends_in_account_order(None).await;
}

/// The open model releases events on a schedule, yet an account's next event still waits
/// for the previous answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_keeps_each_accounts_order_and_logs_every_answer() {
    sends_in_account_order(Some(5_000.0)).await;
}

async fn sends_in_account_order(rate: Option<f64>) {
    let s = Running::start(config(Micros(2_000))).await;
    let mut w = eventbench::workload::Workload::new(
        eventbench::workload::Source::Live("test".into()),
        Micros(2_000),
    );
    for i in 0..60u64 {
        w.push(
            eventbench::types::EventId(i + 1),
            eventbench::types::AccountId(i % 5),
            None,
        );
    }
    let mut cfg = send::client::SendConfig::ours(&format!("{}/api", s.base), 3);
    cfg.rate = rate;
    let dir = tempfile::tempdir().unwrap();
    let sent_path = dir.path().join("sent.csv");
    let sent = send::request::SentLog::create(&sent_path).unwrap();
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let report = send::client::send_all(&w, &cfg, counter, Some(std::sync::Arc::new(sent)))
        .await
        .unwrap();
    assert_eq!((report.events, report.accepted), (60, 60));
    assert_eq!(report.model, if rate.is_some() { "open" } else { "closed" });
    let rows = std::fs::read_to_string(&sent_path).unwrap();
    assert_eq!(rows.lines().count(), 61);
    assert!(rows.lines().skip(1).all(|l| l.ends_with(",202")), "{rows}");
    let o = s.shutdown().await;
    // Per account, the server saw the events in their original (ascending) order.
    for a in 0..5u64 {
        let seen: Vec<u64> = o
            .workload
            .indexes()
            .filter(|&e| o.workload.account_id(o.workload.account_of(e)).0 == a)
            .map(|e| o.workload.event_id(e).0)
            .collect();
        assert!(
            seen.windows(2).all(|p| p[0] < p[1]),
            "account {a}: {seen:?}"
        );
        assert_eq!(seen.len(), 12);
    }
}

#[test]
fn run_ingest_http_processes_a_generated_workload_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    let mut csv = String::from("event_id,account_id\n");
    for i in 1..=200u64 {
        csv.push_str(&format!("{i},{}\n", (i * 7) % 13));
    }
    std::fs::write(&input, csv).unwrap();
    let json = dir.path().join("report.json");
    let out = eventbench()
        .args([
            "run",
            "--ingest",
            "http",
            "--process-time",
            "10ms",
            "--timer",
            "sleep",
            "--quiet",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("ordering     ok"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["events"], 200);
    assert_eq!(report["ordering_violations"], 0);
    assert_eq!(report["unprocessed"], 0);
    // --timer reaches the in-process server's engine.
    assert_eq!(report["timer"], "sleep");
}

/// A URL whose authority is malformed is refused before the workload is read or anything is
/// sent: `http://127.0.0.1:/api` used to mean port 80.
#[test]
fn a_malformed_url_is_bad_usage_naming_the_flag_for_send_and_the_http_handler() {
    let dir = tempfile::tempdir().unwrap();
    let sent = dir.path().join("sent.csv");
    for (url, problem) in [
        ("http://127.0.0.1:/api", "the port after ':' is empty"),
        ("http://127.0.0.1:65536/api", "port 65536 is out of range"),
        ("http://127.0.0.1:80a/api", "port '80a' is not a number"),
        ("http://:3910/api", "the host is empty"),
    ] {
        // A bad row on stdin: had the URL passed, the error would be about the input instead.
        let out = eventbench()
            .args(["send", "--url", url, "--input", "-", "--sent"])
            .arg(&sent)
            .write_stdin("event_id,account_id\n1,x\n")
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(&format!("--url '{url}': {problem}")), "{err}");
        assert!(!err.contains("<stdin>"), "{err}");
        assert!(!sent.exists(), "{url}: the --sent file was created");
        // `--handler http:` goes through the same parser and says the same.
        let out = eventbench()
            .args(["run", "--clock", "real", "--input", "-", "--handler"])
            .arg(format!("http:{url}"))
            .write_stdin("event_id,account_id\n1,x\n")
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains("'--handler <HANDLER>'"), "{err}");
        assert!(err.contains(&format!("http:{url}: {problem}")), "{err}");
    }
}
