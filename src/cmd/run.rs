//! `eventbench run` (being written).
use crate::cli::GlobalArgs;

/// Flags of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
