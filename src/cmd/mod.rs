//! One module per subcommand, each with its flags (`Args`) and its `run`.

pub mod compare;
pub mod generate;
pub mod publish;
pub mod report;
pub mod run;
pub mod send;
pub mod serve;
pub mod verify;
pub mod worker;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(args) => generate::run(args, &cli.global),
        Command::Run(args) => run::run(args, &cli.global),
        Command::Compare(args) => compare::run(args, &cli.global),
        Command::Serve(args) => serve::run(args, &cli.global),
        Command::Send(args) => send::run(args, &cli.global),
        Command::Publish(args) => publish::run(args, &cli.global),
        Command::Worker(args) => worker::run(args, &cli.global),
        Command::Report(args) => report::run(args, &cli.global),
        Command::Verify(args) => verify::run(args, &cli.global),
    }
}

use crate::error::UsageError;
pub use crate::output::check_output_paths;
use crate::types::Micros;
use crate::workload::{self, Workload};
use std::path::Path;

/// The workload a command runs: `--input`, else `./events.csv` when present (what `generate`
/// writes by default), else the built-in workload.
pub fn load_workload(input: Option<&Path>, process_time: Micros) -> anyhow::Result<Workload> {
    let default = Path::new("events.csv");
    let path = match input {
        Some(p) => Some(p),
        None if default.is_file() => Some(default),
        None => None,
    };
    let mut w = match path {
        Some(p) => crate::workload::csv::load(p, process_time)?,
        None => workload::generate::build(&workload::generate::builtin_spec(), process_time),
    };
    if !w.has_per_event_durations() && process_time.0.checked_mul(w.len() as u64).is_none() {
        return Err(UsageError(format!(
            "--process-time {process_time} × {} events is more than 2^64 µs of work",
            w.len()
        ))
        .into());
    }
    w.freeze();
    Ok(w)
}

/// Refuses broker-only flags given without `--broker`. clap's `requires` cannot: it lets a
/// requirement go when the required flag conflicts with one present (`--clock virtual`,
/// `--in-memory`), and it does not see flags left at their defaults.
pub fn check_broker_only(broker: Option<&str>, given: &[(&str, bool)]) -> anyhow::Result<()> {
    match given.iter().find(|(_, is_given)| *is_given) {
        Some((flag, _)) if broker.is_none() => Err(UsageError(format!(
            "{flag} applies only with --broker amqp://… (the events are queued in memory here)"
        ))
        .into()),
        _ => Ok(()),
    }
}
