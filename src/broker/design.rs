//! The two consumer designs `compare --broker` measures side by side on one RabbitMQ, each run
//! on its own throwaway queues (a unique prefix, deleted afterwards).
//!
//! - [`Design::Original`]: the original PHP system: W queues routed by `account_id % W`, one
//!   consumer per queue with prefetch 1, so each queue runs strictly one message at a time and
//!   an account's backlog blocks every other account of its queue (the `sharded` schedule).
//! - [`Design::Ours`]: our consumer (`run --broker`): everything prefetched, the accounts of a
//!   queue processed concurrently by the plan's strategy and lanes, each account in order.

use super::amqp::{self, Topology};
use super::Options;
use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::engine::Plan;
use crate::workload::Workload;
use anyhow::Result;

/// Which consumer runs the queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Design {
    Original,
    Ours,
}

impl Design {
    /// Prefetch 1 and one event per message for the original (that is the system being
    /// replaced), everything prefetched and batched messages for ours; latency always counts
    /// from the publish, so events waiting inside RabbitMQ are not hidden from either.
    pub fn options(self, timer: TimerMode) -> Options {
        match self {
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
                batch: super::publish::DEFAULT_BATCH,
                timer,
                board: None,
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Design::Original => "original",
            Design::Ours => "ours",
        }
    }
}

/// A queue prefix no other run uses: `<prefix>.compare-<pid>-<nanos>-<design>-w<queues>`.
pub fn unique_prefix(prefix: &str, design: Design, queues: u32) -> String {
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
pub fn preflight(url: &str) -> Result<()> {
    let rt = crate::engine::runtime()?;
    rt.block_on(async {
        let conn = amqp::connect(url).await?;
        let _ = conn.close(200, "preflight").await;
        Ok(())
    })
}

/// Publishes `workload` to `queues` fresh queues, consumes it with `design` in this process,
/// then deletes the queues (also after a failed run); returns what ran, as `run_through` does.
pub fn run_design(
    url: &str,
    prefix: &str,
    queues: u32,
    (design, timer): (Design, TimerMode),
    workload: Workload,
    plan: Plan,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    let rt = crate::engine::runtime()?;
    let topo = Topology::new(url, queues, &unique_prefix(prefix, design, queues));
    let outcome = rt.block_on(super::run_async(
        topo.clone(),
        workload,
        plan,
        design.options(timer),
        quiet,
    ));
    if let Err(e) = rt.block_on(amqp::delete(url, &topo)) {
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
        assert_eq!(Design::Original.options(TimerMode::Sleep).prefetch, 1);
        assert_eq!(Design::Ours.options(TimerMode::Precise).prefetch, u16::MAX);
        assert_eq!(
            Design::Original.options(TimerMode::Precise).batch,
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
