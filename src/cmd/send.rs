//! `eventbench send` (being written).
use crate::cli::GlobalArgs;

/// Flags of `send`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("send is not implemented yet")
}
