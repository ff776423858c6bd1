//! Crash workflows with real processes (issue 23 item 5): `send` resumed or repeated against a
//! durable server counts 409 as already accepted and exits 0, and `verify` judges the logs
//! of a server killed with SIGKILL and restarted, one `--log` per process.

use crate::common::{self, read_log, Finished, Spawned, LISTENING};
use serde_json::Value;
use std::path::Path;

/// Durable `serve` on a free port with `data` as its data dir and `log` as its processed log.
fn serve(data: &Path, log: &Path, process_time: &str) -> Spawned {
    Spawned::start(
        common::command()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--process-time",
                process_time,
            ])
            .arg("--data-dir")
            .arg(data)
            .arg("--log")
            .arg(log),
        LISTENING,
    )
}

fn send(addr: &str, input: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    common::eventbench()
        .args(["send", "--quiet", "--concurrency", "64", "--url"])
        .arg(format!("http://{addr}/api"))
        .arg("--input")
        .arg(input)
        .args(extra)
        .assert()
}

#[test]
fn a_second_send_counts_409_as_already_accepted_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(60, 6, 3), None);
    let server = serve(&dir.path().join("data"), &dir.path().join("log.csv"), "1ms");
    send(&server.addr, &input, &[]).success();
    let sent = dir.path().join("sent.csv");
    let out = common::command()
        .args(["send", "--quiet", "--format", "json", "--url"])
        .arg(format!("http://{}/api", server.addr))
        .arg("--input")
        .arg(&input)
        .arg("--sent")
        .arg(&sent)
        .output()
        .unwrap();
    // Before the fix this run stopped at the first 409 with exit code 3.
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            report["accepted"].as_u64(),
            report["already_accepted"].as_u64()
        ),
        (Some(0), Some(60)),
        "{report}"
    );
    let rows = std::fs::read_to_string(&sent).unwrap();
    assert_eq!(
        rows.lines().skip(1).filter(|l| l.ends_with(",409")).count(),
        60
    );
    // The table says so too.
    let table = send(&server.addr, &input, &[])
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8_lossy(&table);
    assert!(table.contains("60 accepted before (409)"), "{table}");
    let Finished { status, .. } = server.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
}

/// Starts a durable server on `data` logging to `log`, sends `input` to it in the background,
/// and kills it with SIGKILL once `log` has `rows` more lines (or after 4 s).
fn run_and_kill(data: &Path, log: &Path, input: &Path, rows: usize) {
    let server = serve(data, log, "5ms");
    let mut sender = common::command()
        .args(["send", "--quiet", "--concurrency", "256", "--url"])
        .arg(format!("http://{}/api", server.addr))
        .arg("--input")
        .arg(input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        if std::fs::read_to_string(log).map_or(0, |s| s.lines().count()) > rows {
            break;
        }
    }
    server.kill();
    let _ = sender.wait();
}

/// Events of `later` that an earlier log shows too.
fn run_twice(earlier: &[std::path::PathBuf], later: &Path) -> usize {
    let seen: std::collections::HashSet<u64> = earlier
        .iter()
        .flat_map(|l| read_log(l))
        .map(|r| r.event)
        .collect();
    read_log(later)
        .iter()
        .filter(|r| seen.contains(&r.event))
        .count()
}

#[test]
fn verify_judges_the_logs_of_a_killed_and_restarted_server_one_process_each() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(6000, 300, 5), None);
    let data = dir.path().join("data");
    // A redelivery needs the kill to fall between an event's log row and its finish mark on
    // disk; with many events in flight that is usual, but on a loaded machine it may take a
    // few kills: each restart resends the workload (409 for what it had) and is killed again.
    let mut logs: Vec<std::path::PathBuf> = Vec::new();
    let mut twice = 0;
    // A rerun shows in the log of the process after the kill: stop killing once one has.
    while twice == 0 && logs.len() < 8 {
        let log = dir.path().join(format!("process{}.csv", logs.len()));
        run_and_kill(&data, &log, &input, 600);
        twice += run_twice(&logs, &log);
        logs.push(log);
    }
    // The last process drains everything and stops cleanly.
    let last = dir.path().join("last.csv");
    let server = serve(&data, &last, "5ms");
    send(&server.addr, &input, &[]).success();
    let Finished { status, stderr, .. } = server.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    twice += run_twice(&logs, &last);
    logs.push(last);
    assert!(twice > 0, "no event ran twice in {} processes", logs.len());
    let json = dir.path().join("v.json");
    let mut verify = common::command();
    verify
        .args(["verify", "--process-time", "5ms", "--events"])
        .arg(&input);
    for log in &logs {
        verify.arg("--log").arg(log);
    }
    let out = verify.arg("--json").arg(&json).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["redelivered"].as_u64(), Some(twice as u64), "{stdout}");
    assert_eq!(
        (
            r["reordered"].as_u64(),
            r["overlaps"].as_u64(),
            r["duplicates"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{stdout}"
    );
    assert_eq!(
        (r["lost"].as_u64(), r["unknown"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(stdout.contains("redelivered"), "{stdout}");
    println!(
        "{} processes, {twice} events ran twice\n{stdout}{stderr}",
        logs.len()
    );
    // Every file named, in order.
    assert!(r["log"].as_str().unwrap().ends_with("last.csv"), "{r}");
}
