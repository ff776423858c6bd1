//! A workload piped or redirected into a command without `--input` is the one it runs, and the
//! first line on stderr says which input was used; a terminal or /dev/null keeps the defaults.

use crate::common::{self, eventbench, Spawned, LISTENING};
use assert_cmd::prelude::OutputAssertExt;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use std::process::Stdio;

/// 30 events of 3 accounts, as CSV text.
fn events() -> String {
    let mut s = String::from("event_id,account_id\n");
    for i in 1..=30 {
        s.push_str(&format!("{i},{}\n", i % 3 + 1));
    }
    s
}

fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_piped_workload_is_run_and_named_first() {
    let dir = tempfile::tempdir().unwrap();
    // An ./events.csv is there too: the pipe wins, as the user asked for it explicitly.
    common::write_events(&dir.path().join("events.csv"), &[1, 2], None);
    let out = eventbench()
        .current_dir(dir.path())
        .args(["run", "--clock", "virtual", "--process-time", "1ms"])
        .write_stdin(events())
        .assert()
        .success()
        .stdout(contains("<stdin>: 30 events, 3 accounts"));
    let line = first_line(&out.get_output().stderr);
    assert!(line.contains("from standard input"), "{line}");
}

#[test]
fn a_redirected_file_is_read_like_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.csv");
    std::fs::write(&path, events()).unwrap();
    let out = common::command()
        .current_dir(dir.path())
        .args(["compare", "--clock", "virtual", "-w", "2", "-s", "pool"])
        .arg("--output-dir")
        .arg(dir.path().join("out"))
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        first_line(&out.stderr).contains("from standard input"),
        "{stderr}"
    );
    let doc = std::fs::read_to_string(dir.path().join("out/compare.json")).unwrap();
    assert!(doc.contains("\"events\": 30"), "{doc}");
}

#[test]
fn dev_null_keeps_the_defaults_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    // common::command()'s standard input is /dev/null (assert_cmd's is an empty pipe).
    let out = common::command()
        .current_dir(dir.path())
        .args(["run", "--clock", "virtual"])
        .assert()
        .success()
        .stdout(contains("10000 events"));
    let line = first_line(&out.get_output().stderr);
    assert!(line.contains("built-in workload"), "{line}");
    common::write_events(&dir.path().join("events.csv"), &[1, 2, 1], None);
    let out = common::command()
        .current_dir(dir.path())
        .args(["run", "--clock", "virtual"])
        .assert()
        .success()
        .stdout(contains("3 events"));
    let line = first_line(&out.get_output().stderr);
    assert!(line.contains("./events.csv"), "{line}");
}

#[test]
fn an_empty_pipe_is_an_error_not_another_workload() {
    let dir = tempfile::tempdir().unwrap();
    eventbench()
        .current_dir(dir.path())
        .args(["run", "--clock", "virtual"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(contains("standard input is empty").and(contains("--input")))
        .stdout(predicates::str::is_empty());
}

#[test]
fn send_and_verify_read_a_piped_workload_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let server = Spawned::start(
        common::command()
            .current_dir(dir.path())
            .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--process-time", "1ms", "--log"])
            .arg(&log),
        LISTENING,
    );
    let out = eventbench()
        .current_dir(dir.path())
        .args(["send", "--url"])
        .arg(format!("http://{}/api", server.addr))
        .write_stdin(events())
        .assert()
        .success()
        .stderr(contains("30 events of 3 accounts from <stdin>"));
    assert!(first_line(&out.get_output().stderr).contains("from standard input"));
    let done = server.stop(libc::SIGINT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let out = eventbench()
        .current_dir(dir.path())
        .args([
            "verify",
            "--process-time",
            "1ms",
            "--format",
            "json",
            "--log",
        ])
        .arg(&log)
        .write_stdin(events())
        .assert()
        .success();
    let r: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        (r["events"].as_u64(), r["lost"].as_u64()),
        (Some(30), Some(0))
    );
    // With --log -, standard input is the log's: the events come from elsewhere.
    eventbench()
        .current_dir(dir.path())
        .args(["verify", "--log", "-"])
        .write_stdin(std::fs::read_to_string(&log).unwrap())
        .assert()
        .stderr(contains("built-in workload"));
}
