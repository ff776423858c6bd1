//! The smaller hardenings of `serve`'s intake, through a spawned binary and real sockets: a
//! listen backlog of 1,024 (a burst of connects is queued, not dropped), and bodies that
//! parsers read differently (a JSON key given twice, a charset other than UTF-8) refused with
//! 400 and a JSON error saying why.

use crate::common::{command, Spawned, LISTENING};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Far above what a connect or an answer takes, so only a server that never answers fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn serve() -> Spawned {
    let mut cmd = command();
    cmd.args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
        .args(["--process-time", "1ms"]);
    Spawned::start(&mut cmd, LISTENING)
}

/// Posts `body` with `content_type`; the status and the JSON body of the answer.
fn post(addr: &str, content_type: &str, body: &str) -> (u16, serde_json::Value) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        tcp,
        "POST /api HTTP/1.1\r\nHost: x\r\ncontent-type: {content_type}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let json = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    (status, json)
}

#[test]
fn a_json_key_given_twice_is_a_400_that_names_the_key() {
    let server = serve();
    let json = "application/json";
    let (status, answer) = post(
        &server.addr,
        json,
        r#"{"event_id": 1, "account_id": 7, "account_id": 8}"#,
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "bad_request");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains(r#"key "account_id" is given twice"#),
        "{message}"
    );
    // The same event without the second key is accepted: nothing of it was kept.
    let (status, answer) = post(&server.addr, json, r#"{"event_id": 1, "account_id": 7}"#);
    assert_eq!(status, 202, "{answer}");
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
}

#[test]
fn a_charset_other_than_utf8_is_a_400_that_says_so() {
    let server = serve();
    for (content_type, body) in [
        (
            "application/json; charset=iso-8859-1",
            r#"{"event_id": 1, "account_id": 7}"#,
        ),
        (
            "application/x-www-form-urlencoded; charset=\"UTF-16\"",
            "event_id=1&account_id=7",
        ),
    ] {
        let (status, answer) = post(&server.addr, content_type, body);
        assert_eq!(status, 400, "{content_type}: {answer}");
        assert_eq!(answer["error"], "bad_request");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("is not supported; the body must be UTF-8"),
            "{message}"
        );
    }
    for (n, content_type) in ["application/json; charset=UTF-8", "application/json"]
        .into_iter()
        .enumerate()
    {
        let body = format!(r#"{{"event_id": {}, "account_id": 7}}"#, n + 1);
        let (status, answer) = post(&server.addr, content_type, &body);
        assert_eq!(status, 202, "{content_type}: {answer}");
    }
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
}

#[test]
fn a_burst_of_connects_is_queued_by_a_backlog_above_128() {
    let mut server = serve();
    let addr: SocketAddr = server.addr.parse().unwrap();
    // A stopped server accepts nothing: every connect must wait in the kernel's queue. With the
    // old backlog of 128 the 130th never completed (its SYNs were dropped until the timeout).
    server.signal(libc::SIGSTOP);
    let held: Vec<TcpStream> = (0..400)
        .map(|i| {
            TcpStream::connect_timeout(&addr, PATIENCE)
                .unwrap_or_else(|e| panic!("connect {i} was not queued: {e}"))
        })
        .collect();
    server.signal(libc::SIGCONT);
    drop(held);
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
}
