//! `serve`'s durable queue with real processes: kill -9 while `send` posts and events are in
//! flight, restart on the same data dir, and check from the processed logs alone that every
//! accepted event ran (at least once, in per-account order); a full disk answers 503, never a
//! 202 for an event that is not on disk.

use crate::common::broker::post_event;
use crate::common::{self, check_runs, read_log, Finished, Row, Spawned, LISTENING};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `serve` on a free port in `cwd` with `args`, then the paths in `extra`, once it listens.
fn serve(cwd: &Path, args: &[&str], extra: &[&Path]) -> Spawned {
    Spawned::start(
        common::command()
            .current_dir(cwd)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .args(extra),
        LISTENING,
    )
}

/// One POST /api on a fresh connection; the status code, or 0 when the connection failed.
fn post(addr: &str, event: u64, account: u64) -> u16 {
    post_event(addr, account, event).unwrap_or(0)
}

/// Posts every event, each account's events one after another on its own thread (as `send`
/// does); returns (event, status) pairs.
fn post_all(addr: &str, events: &[(u64, u64)]) -> Vec<(u64, u16)> {
    let mut by_account: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for &(e, a) in events {
        by_account.entry(a).or_default().push(e);
    }
    let threads: Vec<_> = by_account
        .into_iter()
        .map(|(a, ids)| {
            let addr = addr.to_string();
            std::thread::spawn(move || {
                ids.into_iter()
                    .map(|e| (e, post(&addr, e, a)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn workload(dir: &Path, n: usize, accounts: u64) -> (PathBuf, Vec<(u64, u64)>) {
    let accs = common::accounts(n, accounts, 12);
    let path = dir.join("events.csv");
    common::write_events(&path, &accs, None);
    let events = accs
        .iter()
        .enumerate()
        .map(|(i, &a)| (i as u64 + 1, a))
        .collect();
    (path, events)
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn kill_9_while_sending_then_restart_loses_nothing_and_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (input, events) = workload(dir.path(), 1500, 60);
    let (log1, log2, json2) = (
        dir.path().join("log1.csv"),
        dir.path().join("log2.csv"),
        dir.path().join("report2.json"),
    );
    let first = serve(
        dir.path(),
        &["--process-time", "20ms", "--data-dir"],
        &[&data, Path::new("--log"), &log1],
    );
    let mut send = common::command()
        .args(["send", "--quiet", "--concurrency", "24", "--url"])
        .arg(format!("http://{}/api", first.addr))
        .arg("--input")
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let `send` get going and events start, then pull the plug mid-stream.
    let mut logged = 0;
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(25));
        logged = std::fs::read_to_string(&log1).map_or(0, |s| s.lines().count());
        if logged > 200 {
            break;
        }
    }
    assert!(
        logged > 200,
        "the first server processed only {logged} rows"
    );
    first.kill();
    let _ = send.wait().unwrap();
    let run1 = read_log(&log1);
    assert!(
        run1.len() < events.len(),
        "killed too late to test anything"
    );

    let second = serve(
        dir.path(),
        &["--process-time", "20ms", "--data-dir"],
        &[
            &data,
            Path::new("--log"),
            &log2,
            Path::new("--json"),
            &json2,
        ],
    );
    // Re-send everything: what the first server accepted must be refused, the rest accepted.
    let statuses = post_all(&second.addr, &events);
    let conflicts = statuses.iter().filter(|(_, s)| *s == 409).count();
    let accepted = statuses.iter().filter(|(_, s)| *s == 202).count();
    assert_eq!(conflicts + accepted, events.len(), "{statuses:?}");
    assert!(
        conflicts >= run1.len(),
        "{conflicts} re-sent ids refused, but the first run processed {}",
        run1.len()
    );
    let Finished {
        status,
        stdout,
        stderr,
    } = second.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    let rep = report(&json2);
    assert_eq!(rep["queue"], "durable");
    assert_eq!(rep["ordering_violations"], 0, "{stdout}");
    let resumed = rep["resumed"].as_u64().unwrap();
    let redelivered = rep["redelivered"].as_u64().unwrap();
    assert_eq!(
        rep["events"].as_u64().unwrap(),
        resumed + accepted as u64,
        "the second run processed the resumed events and the newly accepted ones"
    );
    let runs: Vec<Vec<Row>> = vec![run1, read_log(&log2)];
    let twice = check_runs(&events, &runs, redelivered);
    println!(
        "first run {} rows; resumed {resumed} ({redelivered} redelivered, {twice} logged twice); \
         {conflicts} × 409, {accepted} × 202",
        runs[0].len()
    );
    // The drained data dir is small.
    let bytes: u64 = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        bytes < 1_000_000,
        "data dir holds {bytes} bytes after draining"
    );
}

#[test]
fn an_unusable_data_dir_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    common::eventbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(file.join("data"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("plain-file"))
        .stderr(predicates::str::contains("data dir"));
}

#[test]
fn in_memory_mode_says_so_and_writes_no_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let server = serve(
        dir.path(),
        &["--in-memory", "--process-time", "1ms", "--json"],
        &[&json],
    );
    assert_eq!(post(&server.addr, 1, 1), 202);
    assert_eq!(post(&server.addr, 1, 1), 409);
    let Finished {
        status,
        stdout,
        stderr,
    } = server.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("in memory"), "{stderr}");
    let r = report(&json);
    assert_eq!(r["queue"], "in-memory");
    // A server that started a runtime, a timer thread and answered requests used some CPU;
    // 0 would mean it was never measured.
    assert!(r["cpu_time_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(!dir.path().join("eventbench-data").exists());
}

/// A small tmpfs of our own (root only; skipped elsewhere), so the disk really fills.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_answers_503_and_every_202_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "1m") else {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let data = fs.0.join("data");
    // Events wait a long time, so the queue only grows until the disk is full.
    let server = serve(
        dir.path(),
        &["--process-time", "1h", "--data-dir"],
        &[&data],
    );
    let mut accepted = Vec::new();
    let mut full = 0;
    // Spread ids so the accepted-id ranges cannot collapse.
    for i in 1..=40_000u64 {
        match post(&server.addr, i * 2, i % 50) {
            202 => accepted.push((i * 2, i % 50)),
            503 => {
                full += 1;
                if full >= 20 {
                    break;
                }
            }
            other => panic!("event {}: unexpected status {other}", i * 2),
        }
    }
    assert!(
        full >= 20,
        "the disk never filled ({} accepted)",
        accepted.len()
    );
    assert!(!accepted.is_empty());
    println!("{} accepted before the disk filled", accepted.len());
    server.kill();
    // Move the data dir to a roomy disk and let a new server process what it holds.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&data).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    drop(fs);
    let log = dir.path().join("log.csv");
    let json = dir.path().join("r.json");
    let server = serve(
        dir.path(),
        &["--process-time", "0ms", "--data-dir"],
        &[&copy, Path::new("--log"), &log, Path::new("--json"), &json],
    );
    let Finished {
        status,
        stdout,
        stderr,
    } = server.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
    let rows = read_log(&log);
    let done: std::collections::HashSet<u64> = rows.iter().map(|r| r.event).collect();
    for (e, _) in &accepted {
        assert!(done.contains(e), "event {e} got a 202 but was not on disk");
    }
    assert_eq!(
        rows.len(),
        accepted.len(),
        "only accepted events are on disk"
    );
    check_runs(&accepted, &[rows], 0);
}

#[test]
fn resumed_events_run_first_and_only_the_started_ones_count_as_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two accounts, three events each; with hour-long events only each account's first one
    // has started when the server dies.
    let first = serve(
        dir.path(),
        &["--process-time", "1h", "--data-dir"],
        &[&data],
    );
    let events: Vec<(u64, u64)> = vec![(1, 7), (2, 8), (3, 7), (4, 8), (5, 7), (6, 8)];
    for &(e, a) in &events {
        assert_eq!(post(&first.addr, e, a), 202);
    }
    // The start marks are synced before the handlers sleep; give them that long.
    let metrics = || {
        let mut s = TcpStream::connect(&first.addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    for _ in 0..200 {
        if metrics().contains("eventbench_events_in_flight 2") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    first.kill();

    let (log, json) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    let second = serve(
        dir.path(),
        &["--process-time", "50ms", "--data-dir"],
        &[&data, Path::new("--log"), &log, Path::new("--json"), &json],
    );
    assert_eq!(post(&second.addr, 3, 7), 409, "accepted before the crash");
    assert_eq!(post(&second.addr, 7, 7), 202);
    let Finished {
        status,
        stdout,
        stderr,
    } = second.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
    let rep = report(&json);
    assert_eq!(
        (rep["resumed"].as_u64(), rep["redelivered"].as_u64()),
        (Some(6), Some(2))
    );
    let rows = read_log(&log);
    let order: Vec<u64> = rows
        .iter()
        .filter(|r| r.account == 7)
        .map(|r| r.event)
        .collect();
    assert_eq!(order, vec![1, 3, 5, 7], "account 7 out of order: {order:?}");
    let mut all = events.clone();
    all.push((7, 7));
    check_runs(&all, &[rows], 2);
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = serve(
        dir.path(),
        &["--process-time", "1ms", "--data-dir"],
        &[&data],
    );
    common::eventbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("in use by another process"));
    let Finished { status, stderr, .. } = first.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn the_queue_limit_holds_in_durable_mode_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(
        dir.path(),
        &["--process-time", "1h", "--max-queued", "3", "--data-dir"],
        &[&data],
    );
    // One account: its first event runs, the next three wait, the fifth finds the queue full.
    let statuses: Vec<u16> = (1..=6).map(|e| post(&server.addr, e, 1)).collect();
    assert_eq!(statuses, vec![202, 202, 202, 202, 503, 503]);
    server.kill();
}
