//! `run --ingest http` (being written).
use crate::engine::record::Execution;
use crate::engine::Plan;
use crate::workload::Workload;

/// Starts `serve` in-process on 127.0.0.1:0, sends `workload` through real HTTP and processes
/// it live; returns the live workload (in server arrival order) and what happened.
pub fn run_http(
    _workload: Workload,
    _plan: Plan,
    _quiet: bool,
) -> anyhow::Result<(Workload, Execution)> {
    anyhow::bail!("--ingest http is not implemented yet")
}
