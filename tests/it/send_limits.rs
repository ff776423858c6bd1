//! `send --events N` and `send --duration TIME` against a real `serve --in-memory` on port 0:
//! a sample of a long workload, each account's events still a prefix in order.

use crate::common::{self, eventbench, Spawned, LISTENING};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `n` events over 7 accounts: ids 1..=n, account of event i is i % 7.
fn events(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("events.csv");
    let accounts: Vec<u64> = (1..=n).map(|i| i % 7).collect();
    common::write_events(&path, &accounts, None);
    path
}

/// A server that keeps what it accepted in memory and writes its report on SIGTERM.
fn serve(report: &Path) -> Spawned {
    Spawned::start(
        common::command()
            .args(["serve", "-q", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--process-time", "1ms", "--timer", "sleep", "--json"])
            .arg(report),
        LISTENING,
    )
}

/// `send` with `extra` flags: its JSON report, and the event ids of its --sent log.
fn send(url: &str, input: &Path, sent: &Path, extra: &[&str]) -> (Value, Vec<(u64, u64)>) {
    let out = eventbench()
        .args(["send", "-q", "--format", "json", "--url", url, "--input"])
        .arg(input)
        .arg("--sent")
        .arg(sent)
        .args(extra)
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rows = std::fs::read_to_string(sent).unwrap();
    let ids = rows
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',').map(|x| x.parse::<u64>().unwrap());
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    (report, ids)
}

/// Stops the server and reads its report.
fn served(server: Spawned, report: &Path) -> Value {
    assert!(server.stop(libc::SIGTERM).status.success());
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

/// Per account, the events sent are the first ones of that account in the file.
fn assert_prefixes(ids: &[(u64, u64)], n: u64) {
    let mut per_account: HashMap<u64, Vec<u64>> = HashMap::new();
    for &(event, account) in ids {
        per_account.entry(account).or_default().push(event);
    }
    for (account, mut got) in per_account {
        got.sort_unstable();
        let want: Vec<u64> = (1..=n)
            .filter(|i| i % 7 == account)
            .take(got.len())
            .collect();
        assert_eq!(got, want, "account {account} was not sent a prefix");
    }
}

#[test]
fn events_sends_the_first_n_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path(), 300);
    let report = dir.path().join("serve.json");
    let server = serve(&report);
    let url = format!("http://{}/api", server.addr);
    let (r, ids) = send(
        &url,
        &input,
        &dir.path().join("sent.csv"),
        &["--events", "40"],
    );
    assert_eq!(
        (r["events"].as_u64(), r["sent"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(r["accepted"], 40);
    assert_eq!(r["stopped_early"], false);
    assert!(r.get("duration_s").is_none(), "{r}");
    let mut got: Vec<u64> = ids.iter().map(|x| x.0).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=40).collect::<Vec<u64>>());
    let s = served(server, &report);
    assert_eq!(s["events"], 40, "{s}");
    assert_eq!(s["ordering_violations"], 0);
}

/// The open model's schedule decides what is due before the end (100/s for 20 s of events,
/// stopped after 0.5 s), so the sample is small whatever the machine's speed.
#[test]
fn duration_stops_the_open_model_and_reports_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2000;
    let input = events(dir.path(), n);
    let report = dir.path().join("serve.json");
    let server = serve(&report);
    let url = format!("http://{}/api", server.addr);
    let extra = ["--rate", "100", "--duration", "500ms"];
    let (r, ids) = send(&url, &input, &dir.path().join("sent.csv"), &extra);
    let sent = r["sent"].as_u64().unwrap();
    assert_eq!(r["events"], n);
    assert_eq!(r["stopped_early"], true, "{r}");
    assert_eq!(r["duration_s"], 0.5);
    assert!(sent > 0 && sent <= 51, "{r}");
    assert_eq!(r["accepted"], sent);
    assert_eq!(ids.len() as u64, sent);
    assert_prefixes(&ids, n);
    let s = served(server, &report);
    assert_eq!(s["events"], sent, "{s}");
    assert_eq!(s["ordering_violations"], 0);
}

/// The closed model sends as fast as answers come; 20,000 requests cannot all be answered
/// within 100 ms here, so the limit stops it with most events unsent.
#[test]
fn duration_stops_the_closed_model_with_each_account_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let input = events(dir.path(), n);
    let report = dir.path().join("serve.json");
    let server = serve(&report);
    let url = format!("http://{}/api", server.addr);
    let (r, ids) = send(
        &url,
        &input,
        &dir.path().join("sent.csv"),
        &["--duration", "100ms"],
    );
    let sent = r["sent"].as_u64().unwrap();
    assert_eq!(r["stopped_early"], true, "{r}");
    assert!(sent < n, "{r}");
    assert_eq!(r["accepted"], sent);
    assert_prefixes(&ids, n);
    let s = served(server, &report);
    assert_eq!(s["events"], sent, "{s}");
    assert_eq!(s["ordering_violations"], 0);
}

#[test]
fn the_table_says_where_the_duration_stopped_it_and_bad_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path(), 2000);
    let report = dir.path().join("serve.json");
    let server = serve(&report);
    let url = format!("http://{}/api", server.addr);
    eventbench()
        .args([
            "send",
            "-q",
            "--rate",
            "100",
            "--duration",
            "200ms",
            "--url",
            &url,
        ])
        .arg("--input")
        .arg(&input)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "stopped after --duration 200.000ms: ",
        ));
    served(server, &report);
    for bad in [
        ["--events", "0"],
        ["--duration", "0s"],
        ["--duration", "soon"],
    ] {
        eventbench()
            .args(["send", "--url", "http://127.0.0.1:9/api"])
            .args(bad)
            .arg("--input")
            .arg(&input)
            .assert()
            .code(2);
    }
}
