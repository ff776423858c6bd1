//! Entry point: parse the command line, run the subcommand, map errors to exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = eventbench::parse();
    match eventbench::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if eventbench::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eventbench::print_error(&err);
            ExitCode::from(eventbench::exit_code(&err))
        }
    }
}
