//! A `serve` inside the test process: bound to port 0, stopped through its injected shutdown;
//! and the one place the tests name the library's server and client types.

// Not every test binary names all of them.
#[allow(unused_imports)]
pub use eventbench::internals::{send_all, Config, Limits, SendConfig, SentLog, ServeOutcome};

use eventbench::engine::Strategy;
use eventbench::types::Micros;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and a client for it.
pub struct Running {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub http: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<ServeOutcome>>,
}

impl Running {
    pub async fn start(config: Config) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(eventbench::internals::serve(listener, config, async {
            let _ = stopped.await;
        }));
        Running {
            addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            stop,
            task,
        }
    }

    pub async fn post_json(&self, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// GET `path` (e.g. `/metrics`) on this server.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn event(&self, event: u64, account: u64) -> reqwest::Response {
        self.post_json(&format!(r#"{{"event_id":{event},"account_id":{account}}}"#))
            .await
    }

    /// Signals the shutdown and waits for the server's outcome.
    pub async fn shutdown(self) -> ServeOutcome {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap()
    }
}

/// An in-memory server with every event taking `process_time`, and default limits.
pub fn config(process_time: Micros) -> Config {
    Config {
        strategy: Strategy::Optimal,
        lanes: None,
        process_time,
        per_event_durations: false,
        max_queued: None,
        drain_timeout: None,
        leftover: PathBuf::from("never-written.csv"),
        data_dir: None,
        log: None,
        announce: false,
        connections: Limits::default(),
        handler: Default::default(),
        timer: Default::default(),
        origins: Default::default(),
        token: None,
        accept_data_loss: false,
        tls: None,
    }
}
