//! What one `http:` handler call costs: a POST on a kept-alive connection to a hyper server in
//! the same single-threaded runtime, so the time per call is the CPU of client and server
//! together plus the loopback syscalls, with no thread hand-off in it.

use divan::counter::ItemsCount;
use divan::Bencher;
use eventbench::engine::work::Job;
use eventbench::internals::HttpHandler;
use eventbench::types::{AccountId, EventId, EventIdx, Micros};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;

fn main() {
    divan::main();
}

/// A server answering 204 to everything, like `examples/http_sink`.
async fn sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let service = service_fn(|_: Request<Incoming>| async {
                let mut r = Response::new(String::new());
                *r.status_mut() = StatusCode::NO_CONTENT;
                Ok::<_, Infallible>(r)
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
        }
    });
    format!("http://{addr}/event")
}

fn job(n: u64) -> Job {
    Job {
        index: EventIdx(0),
        event: EventId(n),
        account: AccountId(n % 1000),
        duration: Micros(0),
    }
}

/// `in_flight` calls at a time, each on its own connection once the pool has warmed up.
#[divan::bench(args = [1, 64], sample_count = 30, sample_size = 20)]
fn http_post(b: Bencher, in_flight: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(sink());
    let h = Arc::new(HttpHandler::new(url.parse().unwrap()));
    let round = |h: Arc<HttpHandler>| async move {
        let calls = (0..in_flight).map(|i| {
            let h = Arc::clone(&h);
            async move { h.call(&job(i)).await.unwrap() }
        });
        futures_util::future::join_all(calls).await;
    };
    // Open the connections outside the measurement.
    rt.block_on(round(Arc::clone(&h)));
    b.counter(ItemsCount::new(in_flight))
        .bench_local(|| rt.block_on(round(Arc::clone(&h))));
}
