//! `eventbench serve` (being written).
use crate::cli::GlobalArgs;

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("serve is not implemented yet")
}
