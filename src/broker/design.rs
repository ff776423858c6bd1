//! Running the two consumer designs `compare --broker` measures side by side on one RabbitMQ
//! (see [`Design`] for what each is), each run on its own throwaway queues (a unique prefix,
//! deleted afterwards).

use super::amqp::{self, Brokers, QueueType, Topology};
use super::Options;
use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::engine::Plan;
use crate::report::Design;
use crate::workload::Workload;
use anyhow::Result;

/// How a design consumes: prefetch 1 and one event per message for the original (that is
/// the system being replaced), everything prefetched and batched messages for ours; latency
/// always counts from the publish, so events waiting inside RabbitMQ are not hidden from either.
pub(crate) fn options(design: Design, timer: TimerMode) -> Options {
    match design {
        Design::Original => Options {
            prefetch: 1,
            arrival_at_publish: true,
            batch: 1,
            timer,
            board: None,
        },
        Design::Ours => Options {
            prefetch: u16::MAX,
            arrival_at_publish: true,
            batch: super::publish::IN_PROCESS_BATCH,
            timer,
            board: None,
        },
    }
}

/// Where a sweep's broker runs go: the broker (or cluster), the queue type, the prefix under
/// which each run makes its own queues.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub brokers: Brokers,
    pub queue_type: QueueType,
    pub prefix: String,
}

/// A queue prefix no other run uses: `<prefix>.compare-<pid>-<nanos>-<design>-w<queues>`.
pub(crate) fn unique_prefix(prefix: &str, design: Design, queues: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}.compare-{}-{nanos:09}-{}-w{queues}",
        std::process::id(),
        design.name()
    )
}

/// Connects once and hangs up, so an unreachable broker or a refused login fails a sweep
/// before its first run rather than after the in-memory runs.
pub(crate) fn preflight(brokers: &Brokers) -> Result<()> {
    let rt = crate::engine::runtime()?;
    rt.block_on(async {
        let conn = amqp::connect(brokers).await?;
        let _ = conn.close(200, "preflight").await;
        Ok(())
    })
}

/// Publishes `workload` to `queues` fresh queues, consumes it with `design` in this process,
/// then deletes the queues (also after a failed run); returns what ran, as `run_through` does.
pub(crate) fn run_design(
    target: &Target,
    queues: u32,
    (design, timer): (Design, TimerMode),
    workload: Workload,
    plan: Plan,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    let rt = crate::engine::runtime()?;
    let prefix = unique_prefix(&target.prefix, design, queues);
    let topo = Topology::new(&target.brokers, queues, &prefix).with_queue_type(target.queue_type);
    let outcome = rt.block_on(super::run_async(
        topo.clone(),
        workload,
        plan,
        options(design, timer),
        quiet,
    ));
    if let Err(e) = rt.block_on(amqp::delete(&target.brokers, &topo)) {
        eprintln!(
            "warning: could not delete queues {}.*: {}",
            topo.prefix,
            crate::error::render(&e)
        );
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designs_differ_in_prefetch_and_get_distinct_queues() {
        assert_eq!(options(Design::Original, TimerMode::Sleep).prefetch, 1);
        assert_eq!(options(Design::Ours, TimerMode::Precise).prefetch, u16::MAX);
        assert_eq!(
            options(Design::Original, TimerMode::Precise).batch,
            1,
            "the original sends one per message"
        );
        let a = unique_prefix("eb", Design::Original, 10);
        let b = unique_prefix("eb", Design::Ours, 10);
        assert!(
            a.starts_with("eb.compare-") && a.ends_with("-original-w10"),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
