//! `compare --broker`: the original one-message-at-a-time design and ours, through the same
//! RabbitMQ, beside the in-memory runs, and the usage errors that come before any run.

use crate::common::{self, eventbench};
use serde_json::Value;
use std::path::Path;

/// 200 events over 20 accounts, the same every run.
fn small_workload(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("events.csv");
    common::write_events(&path, &common::accounts(200, 20, 7), None);
    path
}

fn runs(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("compare.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["runs"].as_array().unwrap().clone()
}

fn backend(r: &Value) -> &str {
    r.get("backend").and_then(Value::as_str).unwrap_or("memory")
}

#[test]
fn both_designs_run_beside_memory_and_the_original_is_slower() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = small_workload(tmp.path());
    let out = tmp.path().join("out");
    let prefix = format!("ebtest-compare-{}", std::process::id());
    let assert = eventbench()
        .args(["compare", "--broker", &url, "--queue-prefix", &prefix])
        .args(["--workers", "5,10", "--strategies", "optimal"])
        .args(["--process-time", "20ms", "--input"])
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(stdout.contains("(RabbitMQ, original)"), "{stdout}");
    assert!(stdout.contains("(RabbitMQ, ours)"), "{stdout}");
    let runs = runs(&out);
    let count = |b: &str| runs.iter().filter(|r| backend(r) == b).count();
    assert_eq!(
        (
            count("memory"),
            count("broker-ours"),
            count("broker-original")
        ),
        (2, 2, 2),
        "{runs:#?}"
    );
    for r in &runs {
        let ok = r["ordering_violations"] == 0 && r["duplicates"] == 0 && r["unprocessed"] == 0;
        assert!(ok, "ordering check failed: {r:#}");
        assert_eq!(r["events"], 200);
        if backend(r) != "memory" {
            assert_eq!(r["clock"], "real", "{r:#}");
        }
    }
    for w in ["5", "10"] {
        let wall = |b: &str| {
            let r = runs
                .iter()
                .find(|r| backend(r) == b && r["workers_requested"] == w)
                .unwrap_or_else(|| panic!("no {b} run with {w} workers"));
            r["wall_time_s"].as_f64().unwrap()
        };
        let (original, ours) = (wall("broker-original"), wall("broker-ours"));
        assert!(
            original >= ours,
            "{w} workers: original {original} s < ours {ours} s"
        );
    }
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("5 (RabbitMQ, original)"), "{md}");
}

#[test]
fn a_url_that_is_not_amqp_is_bad_usage_before_any_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = small_workload(tmp.path());
    let out = tmp.path().join("out");
    let assert = eventbench()
        .args(["compare", "--broker", "http://guest:secret@127.0.0.1:5672/"])
        .args(["--workers", "5", "--process-time", "20ms", "--input"])
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("not a RabbitMQ URL"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(!out.exists(), "nothing may be written on bad usage");
}

#[test]
fn queue_prefix_needs_broker() {
    eventbench()
        .args(["compare", "--queue-prefix", "x", "--workers", "5"])
        .assert()
        .code(2);
}

#[test]
fn an_unreachable_broker_fails_before_the_in_memory_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let input = small_workload(tmp.path());
    let out = tmp.path().join("out");
    let assert = eventbench()
        .args(["compare", "--broker", "amqp://127.0.0.1:1/%2f"])
        .args(["--workers", "5", "--process-time", "20ms", "--input"])
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("cannot connect to RabbitMQ"), "{stderr}");
    assert!(!out.join("compare.json").exists());
}
