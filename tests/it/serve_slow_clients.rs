//! Slow and idle clients against a real `serve` on port 0, with real sockets: half-sent
//! headers and idle keep-alive connections are closed, connections beyond the cap are
//! answered 503 and closed, and the server keeps serving everyone else.

use crate::common;
use crate::common::server::{Config, Limits, Running};
use eventbench::types::Micros;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server to close a connection before calling it held open:
/// far above the timeouts configured here, so a loaded machine does not fail the test.
const PATIENCE: Duration = Duration::from_secs(30);

async fn start(connections: Limits) -> Running {
    Running::start(Config {
        connections,
        ..common::server::config(Micros(1_000))
    })
    .await
}

/// Reads until the server closes the connection; `None` if it is still open after PATIENCE.
/// A reset counts as closed (the server may close with our unread bytes in its buffer).
async fn read_until_closed(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut got)).await {
        Ok(Ok(_)) => Some(got),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(got),
        Ok(Err(e)) => panic!("unexpected read error: {e}"),
        Err(_) => None,
    }
}

/// Posts one event over a fresh connection, retrying while the server is still releasing
/// connections (a 503 or a closed connection); returns the final status.
async fn post_event(addr: SocketAddr, event: u64) -> u16 {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        let sent = http
            .post(format!("http://{addr}/api"))
            .json(&serde_json::json!({"event_id": event, "account_id": 1}))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() != 503 => return r.status().as_u16(),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("the server never accepted event {event}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_and_silent_connections_are_closed_after_the_header_timeout() {
    let s = start(Limits {
        header_timeout: Duration::from_millis(300),
        max_connections: 10_000,
        ..Limits::default()
    })
    .await;
    let mut slow = Vec::new();
    for i in 0..200 {
        let mut tcp = TcpStream::connect(s.addr).await.unwrap();
        if i % 2 == 0 {
            tcp.write_all(b"POST /api HTTP/1.1\r\nHost: x\r\nContent-")
                .await
                .unwrap();
        }
        slow.push(tcp);
    }
    for (i, tcp) in slow.iter_mut().enumerate() {
        let answer = read_until_closed(tcp).await;
        assert!(answer.is_some(), "connection {i} is still open");
    }
    assert_eq!(
        post_event(s.addr, 1).await,
        202,
        "the server stopped serving"
    );
    let outcome = s.shutdown().await;
    assert_eq!(outcome.workload.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let s = start(Limits {
        header_timeout: Duration::from_millis(300),
        max_connections: 10_000,
        ..Limits::default()
    })
    .await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut tcp)
        .await
        .expect("an idle keep-alive connection is still open");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_get_503_and_the_server_keeps_serving() {
    let s = start(Limits {
        header_timeout: Duration::from_secs(3600),
        max_connections: 3,
        ..Limits::default()
    })
    .await;
    // Accepted in connect order, so these three hold every slot.
    let mut holders = Vec::new();
    for _ in 0..3 {
        holders.push(TcpStream::connect(s.addr).await.unwrap());
    }
    for _ in 0..5 {
        let mut extra = TcpStream::connect(s.addr).await.unwrap();
        let answer = read_until_closed(&mut extra)
            .await
            .expect("a connection beyond the cap was kept open");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        assert!(text.contains("too_many_connections"), "{text}");
    }
    drop(holders);
    assert_eq!(post_event(s.addr, 7).await, 202);
    let outcome = s.shutdown().await;
    // Five above, plus any retries of the post while the holders' slots were being freed.
    assert!(
        outcome.refused_connections >= 5,
        "{}",
        outcome.refused_connections
    );
}
