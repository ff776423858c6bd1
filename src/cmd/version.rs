//! `eventbench version`: the build that `-V` names, and with `--verbose` the compiler and the
//! profile too. A subcommand because clap's `--version` ends parsing at once and so cannot
//! take a `--verbose` after it.

use crate::build_info::{Build, VERSION_LINE};
use std::io::Write;

/// Flags of `version`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench version              # eventbench 0.1.0 (1a2b3c4), as -V and --version print it
  eventbench version --verbose    # and the commit, dirtiness, rustc version and profile

dirty: src/, assets/, build.rs, Cargo.toml or Cargo.lock differed from the commit when the
binary was built. Outside a git checkout (a crates tarball) the commit is `unknown`. Every
JSON report carries the same facts as its `build` object.")]
pub struct Args {
    /// Add the commit, whether the tree was dirty, the rustc version and the cargo profile
    #[arg(long, short)]
    pub verbose: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let text = if args.verbose {
        Build::current().verbose()
    } else {
        format!("eventbench {VERSION_LINE}\n")
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
