//! Clients that send a full request header and then stall in the body, against a spawned
//! `serve` on port 0 with real sockets: each is answered 408 and closed after
//! `--body-timeout`, a crowd of them does not lock everyone else out of the connection cap,
//! and a SIGTERM'd server does not wait for them.

use crate::common::{command, Spawned, LISTENING};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a test waits for something the server should do within a second or so: far above
/// the timeouts configured here, so a loaded machine does not fail the test, yet finite, so the
/// server that never does it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

/// A header announcing 100 bytes of body, followed by one of them.
const STALLED: &[u8] = b"POST /api HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
content-length: 100\r\n\r\n{";

fn serve(extra: &[&str]) -> Spawned {
    let mut cmd = command();
    cmd.args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
        .args(["--process-time", "1ms"])
        .args(extra);
    Spawned::start(&mut cmd, LISTENING)
}

/// Opens a connection and stalls in the body of its request.
fn stall(addr: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(STALLED).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp
}

/// Everything the server sent until it closed the connection; panics if it is still open
/// after PATIENCE. A reset counts as closed (the server may close with our bytes unread).
fn read_until_closed(tcp: &mut TcpStream) -> String {
    let mut got = Vec::new();
    match tcp.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!(
            "the connection is still open after {PATIENCE:?} ({e}); got {:?}",
            String::from_utf8_lossy(&got)
        ),
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The status of `GET /healthz` over a fresh connection (0 if the server closed it unanswered).
fn healthz(addr: &str) -> u16 {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let text = read_until_closed(&mut tcp);
    text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn a_stalled_body_gets_408_and_the_connection_is_closed() {
    let server = serve(&["--body-timeout", "500ms"]);
    let mut tcp = stall(&server.addr);
    let answer = read_until_closed(&mut tcp);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
    assert!(answer.contains("500.000ms"), "says the limit: {answer}");
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("body timeout 500.000ms"),
        "{}",
        done.stderr
    );
}

#[test]
fn stalled_bodies_do_not_keep_healthz_behind_the_connection_cap() {
    const CAP: usize = 40;
    let server = serve(&[
        "--body-timeout",
        "500ms",
        "--max-connections",
        &CAP.to_string(),
    ]);
    // Twice the cap: the first ones hold every slot until their body times out.
    let mut stalled: Vec<TcpStream> = (0..2 * CAP).map(|_| stall(&server.addr)).collect();
    let mut answers = [0usize; 2];
    for tcp in &mut stalled {
        let answer = read_until_closed(tcp);
        if answer.starts_with("HTTP/1.1 408") {
            answers[0] += 1;
        } else if answer.starts_with("HTTP/1.1 503") {
            answers[1] += 1;
        }
    }
    assert!(answers[0] > 0, "no stalled body was timed out: {answers:?}");
    assert_eq!(answers[0] + answers[1], 2 * CAP, "{answers:?}");
    // Every stalled connection is closed, so the slots are free again.
    let started = Instant::now();
    while healthz(&server.addr) != 200 {
        assert!(
            started.elapsed() < PATIENCE,
            "/healthz still refused after the stalled bodies were closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = server.stop(libc::SIGTERM);
    assert!(done.status.success(), "{}", done.stderr);
}

#[test]
fn a_sigterm_does_not_wait_for_stalled_clients() {
    // Timeouts far beyond PATIENCE: only the shutdown itself can let these clients go.
    let mut server = serve(&["--body-timeout", "1h", "--header-timeout", "1h"]);
    let mut stalled: Vec<TcpStream> = (0..5).map(|_| stall(&server.addr)).collect();
    let mut half_header = TcpStream::connect(&server.addr).unwrap();
    half_header.write_all(b"POST /api HTTP/1.1\r\nHo").unwrap();
    // Let the server read the stalled headers, so their requests are in progress.
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    let started = Instant::now();
    while server.try_wait().is_none() {
        assert!(
            started.elapsed() < PATIENCE,
            "serve did not exit after SIGTERM with stalled clients: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for tcp in &mut stalled {
        let answer = read_until_closed(tcp);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
            "{answer}"
        );
    }
    let done = server.finish();
    assert!(done.status.success(), "{}", done.stderr);
}
