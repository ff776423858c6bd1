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

/// Runs a durable server with `--log a.csv` under `send`, kills it with SIGKILL once `min_rows`
/// rows are logged, restarts it with `--log b.csv`, resends everything (409 for what it had)
/// and stops it when it has drained. Returns the two logs' paths.
fn crash_and_restart(
    dir: &Path,
    input: &Path,
    min_rows: usize,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("data");
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    let first = serve(&data, &a, "5ms");
    let mut sender = common::command()
        .args(["send", "--quiet", "--concurrency", "256", "--url"])
        .arg(format!("http://{}/api", first.addr))
        .arg("--input")
        .arg(input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        if std::fs::read_to_string(&a).map_or(0, |s| s.lines().count()) > min_rows {
            break;
        }
    }
    first.kill();
    let _ = sender.wait();
    let second = serve(&data, &b, "5ms");
    send(&second.addr, input, &[]).success();
    let Finished { status, stderr, .. } = second.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    (a, b)
}

#[test]
fn verify_judges_the_logs_of_a_killed_and_restarted_server_one_process_each() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(6000, 300, 5), None);
    // A redelivery needs the kill to fall between an event's log row and its finish mark on
    // disk; with 256 events in flight that is nearly always so, but try again if not.
    let mut twice = 0;
    let mut logs = None;
    for attempt in 0..4 {
        let run = dir.path().join(format!("attempt{attempt}"));
        std::fs::create_dir_all(&run).unwrap();
        let (a, b) = crash_and_restart(&run, &input, 1500);
        let first: std::collections::HashSet<u64> = read_log(&a).iter().map(|r| r.event).collect();
        twice = read_log(&b)
            .iter()
            .filter(|r| first.contains(&r.event))
            .count();
        logs = Some((a, b));
        if twice > 0 {
            break;
        }
    }
    let (a, b) = logs.unwrap();
    assert!(twice > 0, "no event ran in both processes in 4 attempts");
    let json = dir.path().join("v.json");
    let out = common::command()
        .args(["verify", "--process-time", "5ms", "--events"])
        .arg(&input)
        .arg("--log")
        .arg(&a)
        .arg("--log")
        .arg(&b)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
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
    println!("{twice} events ran in both processes\n{stdout}{stderr}");
    // Both files named, in order.
    assert!(r["log"].as_str().unwrap().ends_with("b.csv"), "{r}");
}
