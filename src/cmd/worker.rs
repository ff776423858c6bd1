//! `eventbench worker` (being written).
use crate::cli::GlobalArgs;

/// Flags of `worker`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("worker is not implemented yet")
}
