//! The web front of `serve --broker` holds what the engine's server holds: the connection cap
//! (503 too_many_connections), the header deadline (an idle connection is closed) and the body
//! deadline (408), and it serves HTTPS with `--tls-cert/--tls-key`, which `send --cacert`
//! trusts.

use crate::common::broker::*;
use crate::common::{self, command, Spawned};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

fn serve(q: &Queues, url: &str, extra: &[&std::ffi::OsStr], marker: &str) -> Spawned {
    Spawned::start(
        command()
            .args(["serve", "--listen", "127.0.0.1:0", "--broker", url])
            .args(["--queues", "1", "--queue-prefix", &q.topo.prefix])
            // The accepted ids are not what these tests are about: no data dir to share.
            .arg("--in-memory")
            .args(extra),
        marker,
    )
}

fn read_all(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

/// Two connections that the server holds open without an answer. A loaded server may not have
/// let go of the test's earlier connections yet, and then answers one of the pair with 503:
/// such a pair is dropped and opened again.
fn idle_pair(addr: &str) -> Vec<TcpStream> {
    for _ in 0..50 {
        let pair: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        let answered = pair.iter().any(|mut s| {
            s.set_nonblocking(true).unwrap();
            let mut byte = [0u8; 1];
            let got =
                !matches!(s.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            s.set_nonblocking(false).unwrap();
            got
        });
        if !answered {
            return pair;
        }
        drop(pair);
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the server never held two idle connections open");
}

#[test]
fn serve_broker_caps_connections_and_times_out_headers_and_bodies() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 1, "front-limits");
    let flags = [
        "--max-connections",
        "2",
        "--header-timeout",
        "1s",
        "--body-timeout",
        "1s",
    ]
    .map(std::ffi::OsStr::new);
    let server = serve(&q, &url, &flags, common::LISTENING);
    let addr = server.addr.clone();
    assert_eq!(post_event(&addr, 1, 1), Some(202));
    // One byte of a 20-byte body, then nothing: 408 at the body deadline.
    let mut slow = TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "POST /api HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: 20\r\n\r\n{{"
    )
    .unwrap();
    let answer = read_all(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    drop(slow);
    // Two idle connections fill the cap: a third gets 503; both are closed at the header
    // deadline, and the server answers again.
    let mut idle = idle_pair(&addr);
    let mut third = TcpStream::connect(&addr).unwrap();
    let answer = read_all(&mut third);
    assert!(answer.contains("too_many_connections"), "{answer}");
    for s in &mut idle {
        assert_eq!(read_all(s), "", "an idle connection was answered");
    }
    assert_eq!(post_event(&addr, 1, 2), Some(202));
    let done = server.stop(libc::SIGTERM);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(ready_messages(&url, &q.topo), 2);
}

#[test]
fn serve_broker_over_tls_takes_what_send_cacert_sends() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = common::self_signed(dir.path(), "server");
    let events = dir.path().join("events.csv");
    common::write_events(&events, &common::accounts(50, 7, 3), None);
    let q = Queues::new(&url, 1, "front-tls");
    let flags = [
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ];
    let server = serve(&q, &url, &flags, "listening on https://");
    let send = |scheme: &str, ca: bool| {
        let mut c = common::eventbench();
        c.args(["send", "--quiet", "--url"])
            .arg(format!("{scheme}://{}/api", server.addr))
            .arg("--input")
            .arg(&events);
        if ca {
            c.arg("--cacert").arg(&cert);
        }
        c.timeout(PATIENCE).output().unwrap()
    };
    let untrusted = send("https", false);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("--cacert"));
    assert!(
        !send("http", true).status.success(),
        "plain http was served"
    );
    let ok = send("https", true);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let done = server.stop(libc::SIGTERM);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(ready_messages(&url, &q.topo), 50);
}
