//! `serve --tls-cert/--tls-key` and `send --cacert`, with a certificate made in the test
//! (rcgen), a spawned binary and real sockets: send trusting the CA gets every event accepted
//! and processed, send without it is a clear error; the token, origin, body-timeout,
//! header-timeout and connection-cap checks hold on TLS connections; a bad certificate or key
//! is exit 2 naming the file.

use crate::common::{self, Spawned};
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{crypto::ring, ClientConfig, RootCertStore};

const HTTPS: &str = "listening on https://";
const PATIENCE: Duration = Duration::from_secs(30);
const TOKEN: &str = "tls-T0ken";

fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    common::self_signed(dir, name)
}

fn serve_tls(cert: &Path, key: &Path, extra: &[&str]) -> Spawned {
    Spawned::start(
        common::command()
            .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--process-time", "1ms", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .args(extra),
        HTTPS,
    )
}

#[test]
fn send_trusting_the_ca_gets_everything_processed_and_without_it_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let (events, json) = (
        dir.path().join("events.csv"),
        dir.path().join("report.json"),
    );
    common::write_events(&events, &common::accounts(300, 20, 5), None);
    let server = serve_tls(&cert, &key, &["--json", json.to_str().unwrap()]);
    let url = format!("https://{}/api", server.addr);
    let send = |ca: Option<&Path>, url: &str| {
        let mut c = common::eventbench();
        c.args(["send", "--quiet", "--url", url, "--input"])
            .arg(&events);
        if let Some(ca) = ca {
            c.arg("--cacert").arg(ca);
        }
        c.timeout(PATIENCE).output().unwrap()
    };
    let untrusted = send(None, &url);
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success(), "{err}");
    assert!(
        err.contains("certificate") && err.contains("--cacert"),
        "{err}"
    );
    let plain = send(Some(&cert), &format!("http://{}/api", server.addr));
    assert!(
        !plain.status.success(),
        "plain http to a TLS server was accepted"
    );
    let ok = send(Some(&cert), &url);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let done = server.stop(libc::SIGINT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["events"], 300, "{report}");
    assert_eq!(report["ordering_violations"], 0, "{report}");
    assert!(report["input"].to_string().contains("https://"), "{report}");
}

/// A TLS connection that trusts `cert`.
async fn tls_connect(
    addr: &str,
    cert: &Path,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert).unwrap())
        .unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap()
}

/// Sends `head` and `body` on a TLS connection and reads the whole answer; its status.
async fn exchange(addr: &str, cert: &Path, head: &str, body: &str) -> (u16, String) {
    let mut tls = tls_connect(addr, cert).await;
    let request = format!("{head}Host: {addr}\r\nconnection: close\r\n\r\n{body}");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    let _ = tokio::time::timeout(PATIENCE, tls.read_to_string(&mut text)).await;
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn post_head(auth: bool, origin: Option<&str>, length: usize) -> String {
    let mut h = format!(
        "POST /api HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n"
    );
    if auth {
        h.push_str(&format!("authorization: Bearer {TOKEN}\r\n"));
    }
    if let Some(o) = origin {
        h.push_str(&format!("origin: {o}\r\n"));
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_origin_timeouts_and_the_connection_cap_hold_on_tls_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let server = serve_tls(
        &cert,
        &key,
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--max-connections",
            "2",
            "--header-timeout",
            "1s",
            "--body-timeout",
            "1s",
        ],
    );
    let addr = server.addr.clone();
    let body = |e: u64| format!(r#"{{"event_id":{e},"account_id":1}}"#);
    let own = format!("https://{addr}");
    let post = |auth, origin: Option<&'static str>, e| {
        let (addr, cert, b) = (addr.clone(), cert.clone(), body(e));
        let origin = origin.map(|o| if o == "own" { own.clone() } else { o.into() });
        async move {
            let head = post_head(auth, origin.as_deref(), b.len());
            exchange(&addr, &cert, &head, &b).await.0
        }
    };
    assert_eq!(post(true, None, 1).await, 202);
    assert_eq!(post(false, None, 2).await, 401);
    assert_eq!(
        post(true, Some("own"), 3).await,
        202,
        "its own https origin"
    );
    assert_eq!(post(true, Some("https://evil.example"), 4).await, 403);
    let (dash, _) = exchange(
        &addr,
        &cert,
        &format!("GET /?token={TOKEN} HTTP/1.1\r\n"),
        "",
    )
    .await;
    assert_eq!(dash, 200, "the dashboard over TLS");
    // One byte of a 20-byte body, then nothing: 408 within the body timeout.
    let (status, text) = exchange(&addr, &cert, &post_head(true, None, 20), "{").await;
    assert_eq!(status, 408, "{text}");

    // Two connections that never start their handshake fill the cap: the next one is closed
    // unserved, and the two are closed at the header timeout (the handshake's deadline).
    let mut idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(&addr).unwrap();
    third.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        third.read(&mut buf).unwrap_or(0),
        0,
        "a third connection was served"
    );
    for s in &mut idle {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        assert_eq!(
            s.read(&mut buf).unwrap_or(1),
            0,
            "a stalled handshake stayed open"
        );
    }
    // With the stalled ones gone, the server is reachable again.
    assert_eq!(post(true, None, 5).await, 202);
    let done = server.stop(libc::SIGINT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
}

#[test]
fn an_unreadable_or_invalid_certificate_or_key_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let (_, other_key) = certificate(dir.path(), "other");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for (c, k, named) in [
        (&missing, &key, &missing),
        (&garbage, &key, &garbage),
        (&cert, &garbage, &garbage),
        (&cert, &missing, &missing),
        (&cert, &other_key, &other_key),
    ] {
        let out = common::eventbench()
            .args([
                "serve",
                "--in-memory",
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
            ])
            .arg(c)
            .arg("--tls-key")
            .arg(k)
            .timeout(PATIENCE)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{c:?} {k:?}: {err}");
        assert!(
            err.contains(named.file_name().unwrap().to_str().unwrap()),
            "{c:?} {k:?}: {err}"
        );
    }
    let out = common::eventbench()
        .args(["send", "--url", "https://127.0.0.1:9/api", "--cacert"])
        .arg(&garbage)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("garbage.pem"), "{err}");
}
