//! `run --ingest http`: the whole original pipeline in one process — a server on an ephemeral
//! loopback port, and the same client as `send` posting the workload to it.

use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::engine::Plan;
use crate::intake::Config;
use crate::progress::Progress;
use crate::send::client::{send_all, SendConfig, SendReport};
use crate::types::Micros;
use crate::workload::Workload;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Concurrent account streams the in-process client uses.
const CONCURRENCY: usize = 64;

/// Starts `serve` in-process on 127.0.0.1:0 (or on `dashboard`, whose `GET /` then shows the
/// run live), sends `workload` through real HTTP and processes it live; returns the live
/// workload (in server arrival order) and what happened.
pub(super) fn run_http(
    workload: Workload,
    plan: Plan,
    timer: TimerMode,
    quiet: bool,
    dashboard: Option<SocketAddr>,
) -> Result<(Workload, Execution)> {
    let config = Config {
        strategy: plan.strategy(),
        // The workload is known here, so `auto` resolves as in a batch run (sharded included).
        lanes: plan.lanes(workload.account_count() as u64),
        process_time: workload.uniform_duration().unwrap_or(Micros::ZERO),
        per_event_durations: workload.has_per_event_durations(),
        max_queued: None,
        drain_timeout: None,
        leftover: PathBuf::from("unprocessed-events.csv"),
        // The run owns its workload, so there is nothing a crash could lose that a re-run
        // would not redo: in memory, as an engine benchmark should be.
        data_dir: None,
        log: None,
        announce: false,
        connections: crate::intake::listen::Limits::default(),
        handler: Default::default(),
        timer,
        origins: Default::default(),
        token: None,
        accept_data_loss: false,
        tls: None,
    };
    let rt = crate::engine::runtime()?;
    rt.block_on(async move {
        let at = dashboard.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = crate::intake::listen::bind(at)
            .map_err(|e| crate::error::cannot_listen(at, "--dashboard", e))?;
        let addr = listener.local_addr()?;
        if dashboard.is_some() {
            eprintln!("live dashboard: http://{addr}/ (the in-process serve's)");
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::intake::run(listener, config, async {
            let _ = stopped.await;
        }));
        let accepted = Arc::new(AtomicU64::new(0));
        let progress = Progress::new(workload.len() as u64, "sending", quiet);
        let counter = Arc::clone(&accepted);
        let ticker = progress.follow(move || counter.load(std::sync::atomic::Ordering::Relaxed));
        let send_config = SendConfig::ours(&format!("http://{addr}/api"), CONCURRENCY);
        let sent = send_all(&workload, &send_config, accepted, None).await;
        if let Some(t) = ticker {
            t.stop().await;
        }
        progress.finish();
        // Every event is accepted (or sending failed): close, and let the server drain.
        let _ = stop.send(());
        let outcome = server.await.context("the server task failed")??;
        let report = sent?;
        if !quiet {
            eprintln!("{}", summary(&report));
        }
        Ok((outcome.workload, outcome.execution))
    })
}

/// One line on how the HTTP side went.
pub(super) fn summary(r: &SendReport) -> String {
    let p = r.latency_us;
    format!(
        "ingest: {} events over HTTP in {:.3} s ({:.0} requests/s, {} retries); request latency \
         p50 {} p99 {} max {}",
        r.accepted,
        r.elapsed_s,
        r.requests_per_s,
        r.retries,
        Micros(p.p50),
        Micros(p.p99),
        Micros(p.max)
    )
}
