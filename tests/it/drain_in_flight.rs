//! A shutdown with long events in flight, through a spawned `serve` and real sockets: past
//! `--drain-timeout` the server does not wait for handlers still running. A durable server
//! exits and runs the cut-off events again at its next start (counted `redelivered`); an
//! in-memory one reports them `unprocessed` and hands them back in the leftover file.

use crate::common::{command, Finished, Spawned, LISTENING};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Far beyond what a prompt exit or a few 1 ms events take on a loaded machine, yet far below
/// the hour the events in flight would take: only a server that waits for them fails.
const PATIENCE: Duration = Duration::from_secs(20);
const EVENTS: u64 = 10;

fn serve(args: &[&str], paths: &[&Path]) -> Spawned {
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--format", "json"])
        .args(args)
        .args(paths);
    Spawned::start(&mut cmd, LISTENING)
}

fn request(addr: &str, raw: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(raw.as_bytes()).unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    text
}

/// Posts events 1..=EVENTS, each of its own account so that all of them start at once.
fn post_all(addr: &str) {
    for e in 1..=EVENTS {
        let body = format!(r#"{{"event_id":{e},"account_id":{e}}}"#);
        let answer = request(
            addr,
            &format!(
                "POST /api HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    }
}

/// Polls `GET /metrics` until it contains `line`.
fn wait_for_metric(addr: &str, line: &str) {
    let started = Instant::now();
    loop {
        let text = request(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n",
        );
        if text.contains(line) {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "never saw {line:?}: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then waits for the exit, failing (and killing the server) after PATIENCE.
fn terminate(mut server: Spawned) -> Finished {
    server.signal(libc::SIGTERM);
    let started = Instant::now();
    while server.try_wait().is_none() {
        assert!(
            started.elapsed() < PATIENCE,
            "serve still runs {PATIENCE:?} after SIGTERM with --drain-timeout 0s: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.finish()
}

fn report(done: &Finished) -> serde_json::Value {
    serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", done.stdout, done.stderr))
}

#[test]
fn a_durable_server_exits_and_runs_the_cut_off_events_at_its_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let long = [
        "--process-time",
        "1h",
        "--drain-timeout",
        "0s",
        "--data-dir",
    ];
    let first = serve(&long, &[&data]);
    post_all(&first.addr);
    wait_for_metric(
        &first.addr,
        &format!("eventbench_events_in_flight {EVENTS}"),
    );
    let done = terminate(first);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let r = report(&done);
    assert_eq!(r["unprocessed"], EVENTS, "{r}");
    assert!(
        done.stderr.contains("run again at the next start"),
        "{}",
        done.stderr
    );

    let log = dir.path().join("log.csv");
    let short = ["--process-time", "1ms", "--data-dir"];
    let second = serve(&short, &[&data, Path::new("--log"), &log]);
    wait_for_metric(
        &second.addr,
        &format!("eventbench_events_processed_total {EVENTS}"),
    );
    let done = terminate(second);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let r = report(&done);
    assert_eq!(
        (&r["resumed"], &r["redelivered"], &r["unprocessed"]),
        (&EVENTS.into(), &EVENTS.into(), &0.into()),
        "{r}"
    );
    let rows = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        rows.lines().count() as u64,
        EVENTS + 1,
        "nothing lost: {rows}"
    );
}

#[test]
fn an_in_memory_server_reports_them_unprocessed_and_hands_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let leftover = dir.path().join("left.csv");
    let args = [
        "--in-memory",
        "--process-time",
        "1h",
        "--drain-timeout",
        "0s",
    ];
    let server = serve(&args, &[Path::new("--leftover"), &leftover]);
    post_all(&server.addr);
    wait_for_metric(
        &server.addr,
        &format!("eventbench_events_in_flight {EVENTS}"),
    );
    let done = terminate(server);
    // A drain timeout is not a failed check: the run is interrupted, as after Ctrl-C.
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let r = report(&done);
    assert_eq!(
        (&r["unprocessed"], &r["interrupted"]),
        (&EVENTS.into(), &true.into()),
        "{r}"
    );
    let rows = std::fs::read_to_string(&leftover).unwrap();
    assert_eq!(rows.lines().count() as u64, EVENTS + 1, "{rows}");
    assert!(
        done.stderr.contains("10 accepted events were handed back"),
        "{}",
        done.stderr
    );
}
