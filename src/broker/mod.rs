//! The RabbitMQ backend (being written).
use crate::engine::record::Execution;
use crate::engine::Plan;
use crate::workload::Workload;

/// `run --broker URL --queues N`: publishes `workload` to N queues and consumes it in this
/// process; returns the workload as consumed and what happened.
pub fn run_through(
    _url: &str,
    _queues: u32,
    _workload: Workload,
    _plan: Plan,
    _quiet: bool,
) -> anyhow::Result<(Workload, Execution)> {
    anyhow::bail!("--broker is not implemented yet")
}
