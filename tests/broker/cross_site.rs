//! `serve --broker` refuses posts from other sites' web pages and requests without its token as
//! the engine's server does (one router serves both): 403 or 401, nothing published.

use crate::common;
use crate::common::broker::*;
use std::io::{Read, Write};
use std::time::Duration;

/// Posts event `event` of account 1 with `origin`; the status of the answer.
fn post_from(addr: &str, event: u64, origin: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = format!("account_id=1&event_id={event}");
    write!(
        s,
        "POST /api HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp[9..12].parse().unwrap()
}

#[test]
fn serve_broker_refuses_other_sites_and_publishes_nothing_for_them() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 1, "cross-site");
    let serve = serve_broker_with(
        &url,
        &q,
        &["--in-memory", "--allow-origin", "http://friend.example"],
    );
    let addr = serve.addr.clone();
    assert_eq!(post_from(&addr, 1, "http://evil.example"), 403);
    assert_eq!(post_from(&addr, 2, "http://friend.example"), 202);
    assert_eq!(post_from(&addr, 3, &format!("http://{addr}")), 202);
    assert_eq!(post_event(&addr, 1, 4), Some(202));
    let (_, metrics) = http_get(&addr, "/metrics");
    assert!(
        metrics.contains(r#"eventbench_requests_rejected_total{reason="cross_site"} 1"#),
        "{metrics}"
    );
    let done = serve.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
    assert_summary_units(&done.stdout);
    assert_eq!(
        ready_messages(&url, &q.topo),
        3,
        "the refused event was not published"
    );
}

#[test]
fn serve_broker_needs_the_token_of_its_token_file() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 1, "token");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "T0k\n").unwrap();
    let token_file = token.to_str().unwrap();
    let serve = serve_broker_with(&url, &q, &["--in-memory", "--token-file", token_file]);
    let addr = serve.addr.clone();
    assert_eq!(post_event(&addr, 1, 1), Some(401));
    assert_eq!(http_get(&addr, "/healthz").0, 200);
    assert_eq!(http_get(&addr, "/metrics").0, 401);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let body = "account_id=1&event_id=2";
    write!(
        s,
        "POST /api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer T0k\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 202"), "{resp}");
    let done = serve.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(ready_messages(&url, &q.topo), 1);
}

/// The summary speaks the report's units (issue 23): times as `950us`, `2.500ms` or `1.200s`
/// (microseconds only below one millisecond), seconds as `0.00612 s`.
fn assert_summary_units(stdout: &str) {
    let confirm = stdout
        .lines()
        .find(|l| l.starts_with("confirm "))
        .unwrap_or_else(|| panic!("no confirm line: {stdout}"));
    for word in confirm.split_whitespace().skip(2).step_by(2).take(3) {
        if let Some(us) = word.strip_suffix("us") {
            assert!(us.parse::<u64>().unwrap() < 1000, "{confirm}");
        } else {
            assert!(word.ends_with("ms") || word.ends_with('s'), "{confirm}");
        }
    }
    assert!(stdout.contains(" s from first to last 202"), "{stdout}");
}
