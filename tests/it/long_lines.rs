//! Inputs without line ends, through the binary: every command that reads an events CSV, a
//! processed log, a `--sent` file or a JSON report stops at the first line longer than `--max-line-length`
//! (default 1 MiB) with exit 2 and a message naming the file and the line, instead of reading
//! `/dev/zero` until the allocator aborts the process.

use crate::common::{eventbench, write_events};
use predicates::str::contains;
use std::path::Path;

const TOO_LONG: &str = "the line is longer than 1 MiB";

/// A small valid workload and a log that processes it.
fn events_and_log(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let events = dir.join("events.csv");
    write_events(&events, &[1, 2, 1], None);
    let log = dir.join("log.csv");
    std::fs::write(&log, "account_id,event_id\n1,1\n2,2\n1,3\n").unwrap();
    (events, log)
}

#[test]
fn dev_zero_as_the_events_of_run_send_and_compare_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let runs: [&[&str]; 3] = [
        &["run", "-q", "--clock", "virtual", "--input", "/dev/zero"],
        &[
            "send",
            "-q",
            "--url",
            "http://127.0.0.1:9/api",
            "--input",
            "/dev/zero",
        ],
        &["compare", "-q", "--input", "/dev/zero", "--output-dir"],
    ];
    for args in runs {
        let mut cmd = eventbench();
        cmd.args(args);
        if args[0] == "compare" {
            cmd.arg(dir.path().join("cmp"));
        }
        cmd.assert()
            .code(2)
            .stderr(contains(format!("/dev/zero:1: {TOO_LONG}")))
            .stderr(contains("--max-line-length"));
    }
}

#[test]
fn dev_zero_as_the_events_log_or_sent_file_of_verify_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (events, log) = events_and_log(dir.path());
    let events = events.to_str().unwrap();
    let log = log.to_str().unwrap();
    let cases: [&[&str]; 3] = [
        &["--events", "/dev/zero", "--log", log],
        &["--events", events, "--log", "/dev/zero"],
        &["--events", events, "--log", log, "--sent", "/dev/zero"],
    ];
    for args in cases {
        eventbench()
            .args(["verify", "-q", "--process-time", "1ms"])
            .args(args)
            .assert()
            .code(2)
            .stderr(contains(format!("/dev/zero:1: {TOO_LONG}")));
    }
    // The same files with real line ends pass.
    eventbench()
        .args(["verify", "-q", "--process-time", "0ms", "--events", events])
        .args(["--log", log])
        .assert()
        .success();
}

#[test]
fn dev_zero_as_a_report_or_a_baseline_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    eventbench()
        .args(["report", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(contains(format!("/dev/zero:1: {TOO_LONG}")));
    let (events, _) = events_and_log(dir.path());
    eventbench()
        .args(["compare", "-q", "--baseline", "/dev/zero", "--input"])
        .arg(&events)
        .arg("--output-dir")
        .arg(dir.path().join("cmp"))
        .assert()
        .code(2)
        .stderr(contains(format!("baseline /dev/zero:1: {TOO_LONG}")));
}

#[test]
fn a_long_line_is_named_and_the_limit_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("notes.csv");
    let long_note = "x".repeat(3000);
    std::fs::write(
        &events,
        format!("event_id,account_id,note\n1,1,short\n2,1,{long_note}\n3,2,short\n"),
    )
    .unwrap();
    let run = |limit: &str| {
        let mut cmd = eventbench();
        cmd.args(["run", "-q", "--clock", "virtual", "--process-time", "1ms"])
            .args(["--max-line-length", limit, "--input"])
            .arg(&events);
        cmd
    };
    run("2KiB")
        .assert()
        .code(2)
        .stderr(contains("notes.csv:3: the line is longer than 2 KiB"));
    run("4KiB").assert().success();
    run("lots")
        .assert()
        .code(2)
        .stderr(contains("--max-line-length"));

    let (events, log) = events_and_log(dir.path());
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(&format!("# {long_note}\n"));
    std::fs::write(&log, text).unwrap();
    eventbench()
        .args([
            "verify",
            "-q",
            "--process-time",
            "0ms",
            "--max-line-length",
            "1000",
        ])
        .arg("--events")
        .arg(&events)
        .arg("--log")
        .arg(&log)
        .assert()
        .code(2)
        .stderr(contains("log.csv:5: the line is longer than 1000 bytes"));
}
