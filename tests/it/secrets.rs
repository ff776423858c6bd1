//! Credentials in URLs given on the command line are used but never shown: the binary is run
//! with a handler or a send URL holding a password, against a closed port, and its stdout, its
//! `--json`, its stderr, its dead letters and a spawned server's `/api/stats` are searched for
//! the password.

use crate::common::{command, eventbench, write_events, Spawned, LISTENING};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const PASSWORD: &str = "s3cretPW";
/// Port 9 (discard) on loopback: nothing listens, so every call fails at once.
const HANDLER: &str = "http:http://alice:s3cretPW@127.0.0.1:9/hook";
const SHOWN: &str = "http:http://alice:***@127.0.0.1:9/hook";

fn assert_hidden(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password:\n{text}"
    );
}

#[test]
fn a_handler_password_is_not_in_the_report_json_errors_or_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    write_events(&events, &[1, 2, 1], None);
    let json = dir.path().join("report.json");
    let dead = dir.path().join("dead.csv");
    let out = eventbench()
        .args([
            "run",
            "--process-time",
            "1ms",
            "--retries",
            "0",
            "--handler",
            HANDLER,
        ])
        .arg("--input")
        .arg(&events)
        .arg("--json")
        .arg(&json)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "every call fails, so events are given up"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_hidden("stdout", &stdout);
    assert_hidden("stderr", &String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(SHOWN), "{stdout}");
    let report = std::fs::read_to_string(&json).unwrap();
    assert_hidden("--json", &report);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["handler"], SHOWN, "{report}");
    let dead = std::fs::read_to_string(&dead).unwrap();
    assert_hidden("the dead letters", &dead);
    assert!(
        dead.contains("POST http://alice:***@127.0.0.1:9/hook"),
        "{dead}"
    );
}

#[test]
fn a_refused_handler_or_url_is_not_echoed_with_its_password() {
    let out = eventbench()
        .args([
            "run",
            "--handler",
            "http:http://alice:s3cretPW@127.0.0.1:/hook",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_hidden("the --handler error", &stderr);
    assert!(stderr.contains("alice:***@"), "{stderr}");
    let exec = eventbench()
        .args(["run", "--handler", "exec:curl 'http://bob:s3cretPW@h/x"])
        .output()
        .unwrap();
    assert_eq!(exec.status.code(), Some(2));
    assert_hidden("the exec: error", &String::from_utf8_lossy(&exec.stderr));

    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    write_events(&events, &[1], None);
    let send = eventbench()
        .args([
            "send",
            "--url",
            "http://alice:s3cretPW@127.0.0.1:9/api",
            "--input",
        ])
        .arg(&events)
        .output()
        .unwrap();
    assert_ne!(send.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&send.stderr);
    assert_hidden("send's stderr", &stderr);
    assert!(stderr.contains("alice:***@127.0.0.1:9"), "{stderr}");
}

/// `GET path` over a fresh connection; the body.
fn get(addr: &str, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn the_dashboard_of_serve_names_the_real_handler_without_its_password() {
    let mut cmd = command();
    cmd.args([
        "serve",
        "--in-memory",
        "--listen",
        "127.0.0.1:0",
        "--retries",
        "0",
    ])
    .args(["--handler", HANDLER]);
    let server = Spawned::start(&mut cmd, LISTENING);
    // The board is filled in by its first sample, a moment after the server listens.
    let stats = loop {
        let text = get(&server.addr, "/api/stats");
        assert_hidden("/api/stats", &text);
        let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
        if stats["mode"] == "serve" {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(stats["handler"], SHOWN, "{stats}");
    let mut tcp = TcpStream::connect(&server.addr).unwrap();
    let body = r#"{"event_id":1,"account_id":1}"#;
    write!(
        tcp,
        "POST /api HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let done = server.stop(libc::SIGTERM);
    assert_hidden("serve's stdout", &done.stdout);
    assert_hidden("serve's stderr", &done.stderr);
    assert!(done.stdout.contains(SHOWN), "{}", done.stdout);
}
