//! Entry point: parse the command line, run the subcommand, map errors to exit codes.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = eventbench::cmd::Cli::parse();
    match eventbench::cmd::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if eventbench::error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", eventbench::error::render(&err));
            ExitCode::from(eventbench::error::exit_code(&err))
        }
    }
}
