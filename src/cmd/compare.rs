//! `eventbench compare` (being written).
use crate::cli::GlobalArgs;

/// Flags of `compare`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("compare is not implemented yet")
}
