//! One module per subcommand, each with its flags (`Args`) and its `run`.

pub mod generate;
pub mod run;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(args) => generate::run(args, &cli.global),
        Command::Run(args) => run::run(args, &cli.global),
    }
}
