//! Accepting HTTP connections so that slow or idle clients cannot hold the server: a deadline
//! for each request header and for each request body, a cap on open connections, and a
//! shutdown that waits for the server's own work but never for a client.
//!
//! `axum::serve` has none of these (a client that sends half a header keeps its descriptor
//! forever), so connections are driven here with hyper's HTTP/1.1 server, whose header timer
//! also runs while a keep-alive connection waits for its next request. hyper has no body timer:
//! [`super::gate`] puts each request body on the clock. With TLS ([`super::tls`]) the same
//! limits hold: the handshake counts against the connection cap and must end within the header
//! timeout, and the connection is then served as a plain one.

use super::gate::{Gate, Gated};
use super::tls::Tls;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// What a connection may cost the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A connection must deliver a complete request header this long after it opened or after
    /// its previous response went out; else it is closed. Covers both slow headers and idle
    /// keep-alive connections.
    pub header_timeout: Duration,
    /// A request's whole body must arrive this long after its header; else it is answered 408
    /// and the connection closed.
    pub body_timeout: Duration,
    /// Connections open at once; beyond it, new ones get a 503 and are closed.
    pub max_connections: usize,
}

impl Limits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
    /// Descriptors kept free below the process's open-file limit for everything else (the
    /// log, the timer, files written at shutdown).
    const SPARE_DESCRIPTORS: u64 = 128;

    /// The default cap: as many connections as the open-file limit allows with a margin, so
    /// that a flood of clients is refused instead of running the process out of descriptors.
    pub fn default_max_connections() -> usize {
        let limit = open_file_limit().unwrap_or(1024);
        let cap = limit.saturating_sub(Self::SPARE_DESCRIPTORS).max(1);
        usize::try_from(cap).unwrap_or(usize::MAX)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            max_connections: Self::default_max_connections(),
        }
    }
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    // `rlim_t` is u64 on Linux but not on every unix.
    #[allow(clippy::unnecessary_cast)]
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur as u64)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Connections the kernel completes and queues before the server accepts them (capped by
/// `net.core.somaxconn`). The std and tokio default of 128 overflowed under bursts: 1 in 12
/// connects of a 5,000-connection burst had its SYN dropped and waited a second or more for
/// the retry.
pub(crate) const BACKLOG: u32 = 1024;

/// Binds a listener for a server, with [`BACKLOG`]. Needs a tokio runtime.
pub(crate) fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restarted server may bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Sent, without reading the request, to a connection beyond the cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 84\r\n\
\r\n\
{\"error\":\"too_many_connections\",\"status\":503,\"message\":\"too many open connections\"}\n";

/// After shutdown, once every request the server was working on is answered, how long the
/// answers get to reach their clients before the connections are abandoned.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// Serves `router` until `shutdown` completes, then stops accepting, cuts off the bodies still
/// arriving and waits for the requests in progress to be answered; connections that are idle or
/// still sending a header are not waited for. Returns how many connections were refused.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()>,
) -> u64 {
    let gate = Arc::new(Gate::new(limits.body_timeout));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refused = AtomicU64::new(0);
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            // A TLS client could not read a plain answer: it is only closed.
            if tls.is_none() {
                refuse(tcp);
            }
            refused.fetch_add(1, Relaxed);
            continue;
        };
        // Small request/response pairs on keep-alive connections: Nagle would only add delay.
        let _ = tcp.set_nodelay(true);
        let service = Gated::new(TowerToHyperService::new(router.clone()), &gate);
        if let Some(tls) = &tls {
            let (acceptor, http) = (tls.acceptor().clone(), http.clone());
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                // A handshake that stalls is a slow header: the same deadline closes it.
                let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp));
                if let Ok(Ok(stream)) = handshake.await {
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
                drop(permit);
            });
            continue;
        }
        let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            // Errors here are one client's (reset, header timeout): nothing to do but close.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    gate.close();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = async {
            gate.quiet().await;
            tokio::time::sleep(FLUSH_GRACE).await;
        } => {}
    }
    refused.load(Relaxed)
}

/// Answers 503 if the socket takes it at once, then closes: no task, no waiting, so refusing
/// costs the server nothing however many clients arrive.
fn refuse(tcp: TcpStream) {
    let _ = tcp.try_write(BUSY);
}

/// Accept errors are about one connection or a passing shortage (out of descriptors): wait a
/// moment so a persistent one does not spin, and keep serving.
async fn accept_failed(e: &std::io::Error) {
    let pause = match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => 100,
        _ => 1,
    };
    tokio::time::sleep(Duration::from_millis(pause)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 503);
    }

    #[test]
    fn default_cap_leaves_descriptors_spare() {
        let cap = Limits::default_max_connections() as u64;
        if let Some(limit) = open_file_limit() {
            assert!(cap < limit.max(Limits::SPARE_DESCRIPTORS + 1));
        }
        assert!(cap >= 1);
    }
}
