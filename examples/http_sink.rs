//! A minimal HTTP endpoint for handler benchmarks: answers every request with 204 No Content.
//! `http:` handler runs and `wrk` are measured against the same server.
//!
//!     cargo run --release --example http_sink -- 127.0.0.1:8089

use axum::http::StatusCode;
use axum::Router;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("http_sink listening on http://{}", listener.local_addr()?);
        let app = Router::new().fallback(|| async { StatusCode::NO_CONTENT });
        axum::serve(listener, app).await
    })
}
