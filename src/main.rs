//! Entry point: parse the command line, run the subcommand, map errors to exit codes.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = eventbench::Cli::parse();
    match eventbench::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if eventbench::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", eventbench::render(&err));
            ExitCode::from(eventbench::exit_code(&err))
        }
    }
}
