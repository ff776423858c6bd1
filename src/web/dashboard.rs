//! The live dashboard: `GET /` (one self-contained page, every asset embedded in the binary)
//! and `GET /api/stats` (the [`Snapshot`] it polls), mounted by `serve` and, for a real-clock
//! `run --dashboard`, by a [`Standalone`] server on its own thread.

use super::{common_slots, fill, method_not_allowed, CHARTS_JS};
use crate::live::{self, Board, Snapshot};
use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// How long a finished run waits for an open page to fetch its verified result. The page polls
/// every 250 ms, but a browser starved of CPU (four Chromium pages on two cores in the tests)
/// went more than 1.5 s without a poll, and its page never showed the verified result.
const FINAL_GRACE: Duration = Duration::from_secs(5);

/// Where `run --dashboard` listens without an address.
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:3911";

static PAGE: LazyLock<String> = LazyLock::new(|| {
    let script = format!("{CHARTS_JS}\n{}", include_str!("../../assets/dashboard.js"));
    let mut slots = common_slots().to_vec();
    slots.push(("DASH_JS", &script));
    fill(include_str!("../../assets/dashboard.html"), &slots)
});

/// What the routes share: the board, and whether a page has seen the final numbers.
struct Watch {
    board: Arc<Board>,
    watched: AtomicBool,
    saw_final: AtomicBool,
}

/// The dashboard's routes; merge them into a server's router.
pub(crate) fn routes(board: Arc<Board>) -> Router {
    routes_for(Arc::new(Watch {
        board,
        watched: AtomicBool::new(false),
        saw_final: AtomicBool::new(false),
    }))
}

fn routes_for(watch: Arc<Watch>) -> Router {
    Router::new()
        .route("/", get(page).fallback(get_only))
        .route("/api/stats", get(stats).fallback(get_only))
        // Browsers ask for it on every page; a 404 would count as a rejected request.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(watch)
}

/// The same JSON error and `Allow` header as the API's own routes: a script sees one shape.
async fn get_only() -> Response {
    method_not_allowed("GET, HEAD")
}

async fn page() -> Response {
    let ct = HeaderValue::from_static("text/html; charset=utf-8");
    ([(header::CONTENT_TYPE, ct)], PAGE.as_str()).into_response()
}

async fn stats(State(w): State<Arc<Watch>>) -> Response {
    let snap: Snapshot = w.board.snapshot();
    w.watched.store(true, Relaxed);
    if snap.done {
        w.saw_final.store(true, Relaxed);
    }
    let no_store = HeaderValue::from_static("no-store");
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, no_store)],
        axum::Json(snap),
    )
        .into_response()
}

/// A dashboard server of its own (for `run`): its own thread and runtime, so it lives from
/// before the run's runtime starts until after the report is verified.
pub(crate) struct Standalone {
    /// Where it listens (the tests ask it there).
    #[cfg_attr(not(test), allow(dead_code))]
    addr: SocketAddr,
    watch: Arc<Watch>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Standalone {
    /// Binds `addr` now (so a taken port fails before any work) and serves `board`, sampling
    /// it every [`live::SAMPLE_EVERY`].
    pub(crate) fn start(addr: SocketAddr, board: Arc<Board>) -> Result<Self> {
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|e| crate::error::cannot_listen(addr, "--dashboard", e))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        eprintln!("live dashboard: http://{addr}/");
        let watch = Arc::new(Watch {
            board: Arc::clone(&board),
            watched: AtomicBool::new(false),
            saw_final: AtomicBool::new(false),
        });
        let app = routes_for(Arc::clone(&watch));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the dashboard's runtime")?;
        let thread = std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || {
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let sampler = tokio::spawn(live::sample_forever(board));
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                    sampler.abort();
                });
            })
            .context("cannot start the dashboard thread")?;
        Ok(Standalone {
            addr,
            watch,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    pub(crate) fn board(&self) -> &Arc<Board> {
        &self.watch.board
    }

    /// Shows the verified report as the final state, then closes (see [`Standalone::close`]).
    pub(crate) fn complete(self, report: &crate::report::Report) {
        self.watch.board.complete(
            report.ordering_violations,
            report.wall_time_s,
            report.efficiency,
            report.lower_bound_s,
        );
        self.close(FINAL_GRACE);
    }

    /// Stops serving; if a page is open, first gives it up to `grace` to fetch the final
    /// numbers (so the page ends on the verified result, not on the last live sample).
    pub(crate) fn close(mut self, grace: Duration) {
        let until = Instant::now() + grace;
        while self.watch.watched.load(Relaxed)
            && !self.watch.saw_final.load(Relaxed)
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_embeds_every_asset() {
        let page = PAGE.as_str();
        assert!(!page.contains("/*UPLOT_JS*/") && !page.contains("/*DASH_JS*/"));
        assert!(page.contains("uPlot") && page.contains("api/stats"));
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
        // One closing tag per opened script: nothing embedded ends a script early.
        assert_eq!(
            page.matches("<script>").count(),
            page.matches("</script>").count()
        );
    }

    fn ask(addr: SocketAddr, request_line: &str) -> String {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        write!(
            tcp,
            "{request_line}\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        tcp.read_to_string(&mut reply).unwrap();
        reply
    }

    #[test]
    fn a_standalone_dashboard_serves_the_snapshot_and_stops() {
        let board = Arc::new(Board::default());
        let server = Standalone::start("127.0.0.1:0".parse().unwrap(), board).unwrap();
        let reply = ask(server.addr, "GET /api/stats HTTP/1.1");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.contains("\"history\""));
        server.close(Duration::ZERO);
    }

    #[test]
    fn other_methods_get_a_json_405_naming_the_allowed_ones() {
        let board = Arc::new(Board::default());
        let server = Standalone::start("127.0.0.1:0".parse().unwrap(), board).unwrap();
        for line in ["POST /api/stats HTTP/1.1", "DELETE / HTTP/1.1"] {
            let reply = ask(server.addr, line);
            assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
            assert!(reply.to_lowercase().contains("allow: get, head"), "{reply}");
            assert!(
                reply.contains("\"error\":\"method_not_allowed\""),
                "{reply}"
            );
        }
        server.close(Duration::ZERO);
    }
}
