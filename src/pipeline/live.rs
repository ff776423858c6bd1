//! The open-ended pipelines: `serve` (events arrive over HTTP) and `worker` (events arrive from
//! RabbitMQ). Each runs until its stop, then settles what a real handler did and hands back
//! the same [`Outcome`] as a batch run, in server arrival (or delivery) order.

use crate::broker::consume::{self, BrokerStats, StopWhen};
use crate::engine::record::Execution;
use crate::engine::{ClockKind, Plan};
use crate::handler::{settle, AnyHandler, HandlerSpec};
use crate::intake::{self, Config, Leftover};
use crate::report::usage::CpuTime;
use crate::report::{Backend, Outcome, QueueInfo, RunInfo};
use crate::workload::Workload;
use anyhow::Result;
use std::future::Future;
use std::net::SocketAddr;

/// A `serve` that has shut down.
pub(crate) struct Served {
    pub outcome: Outcome,
    /// Connections closed unread because `--max-connections` were open.
    pub refused_connections: u64,
    /// Accepted events never started, handed back in a file (in-memory mode).
    pub leftover: Option<Leftover>,
}

/// Serves the web API on `listen` until `stop` completes (or a real handler aborts the run
/// under `--on-failure abort`), drains, and settles. `stop` is made inside the runtime, before
/// the server announces itself, so a signal that arrives while it starts is a clean shutdown.
pub(crate) fn serve<F: Future<Output = ()> + Send + 'static>(
    listen: SocketAddr,
    config: Config,
    plan: Plan,
    spec: &HandlerSpec,
    stop: impl FnOnce() -> F,
) -> Result<Served> {
    let handler = config.handler.clone();
    let cpu = CpuTime::now();
    let rt = crate::engine::runtime()?;
    let served = rt.block_on(async {
        let listener = crate::intake::listen::bind(listen)
            .map_err(|e| crate::error::cannot_listen(listen, "--listen", e))?;
        // An abort stops accepting as a signal does; the accepted events then go to the dead
        // letters.
        let abort = handler.guarded().map(|g| g.aborted());
        let stop = stop();
        let signal = async move {
            match abort {
                Some(abort) => tokio::select! {
                    _ = stop => {}
                    _ = abort => {}
                },
                None => stop.await,
            }
        };
        intake::run(listener, config, signal).await
    })?;
    let cpu = CpuTime::now().since(cpu);
    let queue = queue_info(served.durable.as_ref());
    let mut outcome = finish(&handler, spec, served.workload, served.execution, plan, cpu);
    outcome.queue = Some(queue);
    Ok(Served {
        outcome,
        refused_connections: served.refused_connections,
        leftover: served.leftover,
    })
}

/// A `worker` that has stopped.
pub(crate) struct Consumed {
    pub outcome: Outcome,
    /// What RabbitMQ delivered and what was acknowledged.
    pub stats: BrokerStats,
    /// The queues it owned, and when.
    pub owned: Vec<consume::Ownership>,
}

/// Consumes the queues of `config` until `stop`, then settles.
pub(crate) fn consume(
    config: consume::Config,
    stop: StopWhen,
    plan: Plan,
    handler: &AnyHandler,
    spec: &HandlerSpec,
) -> Result<Consumed> {
    let cpu = CpuTime::now();
    let rt = crate::engine::runtime()?;
    let consumed = rt.block_on(async move {
        let running = consume::start(config).await?;
        running.finish(stop).await
    })?;
    let cpu = CpuTime::now().since(cpu);
    let outcome = finish(
        handler,
        spec,
        consumed.workload,
        consumed.execution,
        plan,
        cpu,
    );
    Ok(Consumed {
        outcome,
        stats: consumed.stats,
        owned: consumed.owned,
    })
}

/// A live run's outcome once it stopped: what a real handler did is settled first (events
/// passed over, measured durations, its report fields).
fn finish(
    handler: &AnyHandler,
    spec: &HandlerSpec,
    mut w: Workload,
    mut execution: Execution,
    plan: Plan,
    cpu: CpuTime,
) -> Outcome {
    let handling = handler
        .guarded()
        .map(|g| settle::settle(g, &spec.to_string(), true, &mut w, &mut execution).handling);
    Outcome {
        workload: w,
        execution,
        info: RunInfo {
            plan,
            clock: ClockKind::Real,
        },
        backend: Backend::Memory,
        handling,
        fingerprint: None,
        cpu,
        queue: None,
        faults: None,
    }
}

fn queue_info(durable: Option<&intake::durable::DurableInfo>) -> QueueInfo {
    match durable {
        Some(d) => QueueInfo {
            queue: "durable".into(),
            data_dir: Some(d.data_dir.display().to_string()),
            resumed: d.resumed,
            redelivered: d.redelivered,
            data_loss: d.data_loss.clone(),
        },
        None => QueueInfo {
            queue: "in-memory".into(),
            ..QueueInfo::default()
        },
    }
}
