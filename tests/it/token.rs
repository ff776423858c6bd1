//! `serve --token-file`, through a spawned binary and real sockets: every request but
//! `GET /healthz` needs `Authorization: Bearer <token>` (401 otherwise, never processed), the
//! dashboard takes it as `?token=` on a GET, `send --token-file` sends it, and a server
//! listening beyond loopback without a token warns.

use crate::common::{command, logged_ids, Spawned, LISTENING};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);
const TOKEN: &str = "s3cret-T0ken";

/// Sends `head` (request line and header lines, each ending `\r\n`) with `body`; the status and
/// the whole answer.
fn exchange(addr: &str, head: &str, body: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        tcp,
        "{head}Host: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    (text[9..12].parse().unwrap(), text)
}

fn post(addr: &str, event: u64, auth: &str) -> (u16, String) {
    let body = format!(r#"{{"event_id":{event},"account_id":1}}"#);
    exchange(addr, &format!("POST /api HTTP/1.1\r\n{auth}"), &body)
}

fn get(addr: &str, path: &str, auth: &str) -> u16 {
    exchange(addr, &format!("GET {path} HTTP/1.1\r\n{auth}"), "").0
}

fn token_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path
}

#[test]
fn every_route_but_healthz_needs_the_token_and_send_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let (token, log) = (token_file(dir.path()), dir.path().join("log.csv"));
    let mut cmd = command();
    cmd.args([
        "serve",
        "--in-memory",
        "--listen",
        "127.0.0.1:0",
        "--process-time",
        "1ms",
    ])
    .args(["--format", "json", "--token-file"])
    .arg(&token)
    .arg("--log")
    .arg(&log);
    let server = Spawned::start(&mut cmd, LISTENING);
    assert!(!server.stderr().contains("warning"), "{}", server.stderr());
    let addr = server.addr.clone();
    let good = format!("Authorization: Bearer {TOKEN}\r\n");
    let (status, answer) = post(&addr, 1, "");
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains(r#""error":"unauthorized""#), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{answer}"
    );
    assert_eq!(
        post(&addr, 2, "Authorization: Bearer s3cret-T0keN\r\n").0,
        401
    );
    assert_eq!(
        post(&addr, 3, &format!("Authorization: Basic {TOKEN}\r\n")).0,
        401
    );
    // The query form is for the dashboard's GETs only.
    let body = r#"{"event_id":4,"account_id":1}"#;
    let query_post = format!("POST /api?token={TOKEN} HTTP/1.1\r\n");
    assert_eq!(exchange(&addr, &query_post, body).0, 401);
    assert_eq!(post(&addr, 5, &good).0, 202);
    assert_eq!(get(&addr, "/healthz", ""), 200);
    assert_eq!(
        get(&addr, "/favicon.ico", ""),
        204,
        "a browser asks for it without the token"
    );
    assert_eq!(get(&addr, "/metrics", ""), 401);
    assert_eq!(get(&addr, "/", ""), 401);
    assert_eq!(get(&addr, "/api/stats", ""), 401);
    assert_eq!(get(&addr, &format!("/?token={TOKEN}"), ""), 200);
    assert_eq!(get(&addr, &format!("/api/stats?token={TOKEN}"), ""), 200);
    let (status, metrics) = exchange(&addr, &format!("GET /metrics HTTP/1.1\r\n{good}"), "");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"eventbench_requests_rejected_total{reason="unauthorized"} 7"#),
        "{metrics}"
    );

    let events = dir.path().join("events.csv");
    std::fs::write(&events, "event_id,account_id\n10,1\n11,2\n12,1\n").unwrap();
    let url = format!("http://{addr}/api");
    let sent = command()
        .args(["send", "--url", &url, "--format", "json", "--input"])
        .arg(&events)
        .arg("--token-file")
        .arg(&token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        !stdout.contains(TOKEN),
        "the token is never shown: {stdout}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["accepted"], 3, "{report}");

    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(
        logged_ids(&log),
        [5, 10, 11, 12],
        "only requests with the token were processed"
    );
}

#[test]
fn listening_beyond_loopback_without_a_token_warns() {
    let mut cmd = command();
    cmd.args(["serve", "--in-memory", "--listen", "0.0.0.0:0"]);
    let server = Spawned::start(&mut cmd, LISTENING);
    let stderr = server.stderr();
    assert!(
        stderr.contains("warning: serve listens on 0.0.0.0:0 without --token-file"),
        "{stderr}"
    );
    server.kill();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.args([
        "serve",
        "--in-memory",
        "--listen",
        "0.0.0.0:0",
        "--token-file",
    ])
    .arg(token_file(dir.path()));
    let server = Spawned::start(&mut cmd, LISTENING);
    assert!(!server.stderr().contains("warning"), "{}", server.stderr());
    server.kill();
}

#[test]
fn an_empty_token_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "\n").unwrap();
    for cmd in ["serve", "send"] {
        let extra = if cmd == "serve" {
            "--in-memory"
        } else {
            "--quiet"
        };
        let out = command()
            .args([cmd, extra, "--token-file"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
        assert!(stderr.contains("the file is empty"), "{cmd}: {stderr}");
    }
}
