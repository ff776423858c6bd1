//! Posts from web pages of other sites, through a spawned `serve` and real sockets: a request
//! whose `Origin` is not the server's own (or that a browser marks `Sec-Fetch-Site:
//! cross-site`) is refused with 403 and never processed, unless `--allow-origin` names it;
//! clients that send neither header, and the server's own pages, are unaffected.

use crate::common::{command, logged_ids, Spawned, LISTENING};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Far above what an answer takes, so only a server that never answers fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn serve(log: &Path, extra: &[&str]) -> Spawned {
    let mut cmd = command();
    cmd.args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
        .args(["--process-time", "1ms", "--format", "json", "--log"])
        .arg(log)
        .args(extra);
    Spawned::start(&mut cmd, LISTENING)
}

/// Sends `raw` (a whole request) and returns the status and the body of the answer.
fn exchange(addr: &str, raw: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(raw.as_bytes()).unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text.split_once("\r\n\r\n").unwrap().1.to_string())
}

/// Posts event `event` of account 1 with the extra header lines `extra` (each ending `\r\n`).
fn post(addr: &str, event: u64, extra: &str) -> (u16, String) {
    let body = format!(r#"{{"event_id":{event},"account_id":1}}"#);
    exchange(
        addr,
        &format!(
            "POST /api HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n{extra}\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn a_post_from_another_sites_page_is_refused_and_not_processed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("processed.csv");
    let server = serve(&log, &[]);
    let addr = server.addr.clone();
    let (status, body) = post(&addr, 1, "Origin: http://evil.example\r\n");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""error":"cross_site""#), "{body}");
    assert!(
        body.contains("--allow-origin http://evil.example"),
        "{body}"
    );
    let (status, body) = post(&addr, 2, "Sec-Fetch-Site: cross-site\r\n");
    assert_eq!(status, 403, "{body}");
    // A form on another site sends both; `null` is a sandboxed or local page.
    let both = "Origin: null\r\nSec-Fetch-Site: cross-site\r\n";
    assert_eq!(post(&addr, 3, both).0, 403);
    // The server's own page, a same-origin fetch, and a client that is not a browser.
    let own = format!("Origin: http://{addr}\r\nSec-Fetch-Site: same-origin\r\n");
    assert_eq!(post(&addr, 4, &own).0, 202);
    assert_eq!(post(&addr, 5, "").0, 202);
    let (_, metrics) = exchange(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n",
    );
    assert!(
        metrics.contains(r#"eventbench_requests_rejected_total{reason="cross_site"} 3"#),
        "{metrics}"
    );
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(logged_ids(&log), [4, 5], "only the accepted events ran");
    let report: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(report["events"], 2, "{report}");
}

#[test]
fn allow_origin_lets_one_other_site_post() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("processed.csv");
    let server = serve(&log, &["--allow-origin", "http://evil.example"]);
    let addr = server.addr.clone();
    let allowed = "Origin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n";
    assert_eq!(post(&addr, 1, allowed).0, 202);
    assert_eq!(post(&addr, 2, "Origin: http://other.example\r\n").0, 403);
    assert_eq!(post(&addr, 3, "Sec-Fetch-Site: cross-site\r\n").0, 403);
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(logged_ids(&log), [1]);
}

#[test]
fn allow_origin_must_be_an_origin() {
    let out = command()
        .args([
            "serve",
            "--in-memory",
            "--allow-origin",
            "http://a.example/page",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without a path"), "{stderr}");
}
