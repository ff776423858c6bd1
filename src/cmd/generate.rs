//! `eventbench generate` (being written).
use crate::cli::GlobalArgs;

/// Flags of `generate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
