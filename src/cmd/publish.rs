//! `eventbench publish` (being written).
use crate::cli::GlobalArgs;

/// Flags of `publish`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("publish is not implemented yet")
}
