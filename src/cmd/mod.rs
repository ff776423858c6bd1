//! One module per subcommand, each with its flags (`Args`) and its `run`.

pub(crate) mod compare;
pub(crate) mod completions;
pub(crate) mod generate;
pub(crate) mod man;
pub(crate) mod publish;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod send;
pub(crate) mod serve;
pub(crate) mod verify;
pub(crate) mod version;
pub(crate) mod worker;

use crate::cli::GlobalArgs;
use crate::color::ColorWhen;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Process per-account event streams in strict per-account order, as fast as this machine
/// allows; verify the order and measure the result against the theoretical lower bound.
#[derive(Debug, Parser)]
#[command(name = "eventbench", version = crate::build_info::VERSION_LINE, propagate_version = true)]
#[command(after_help = "Examples:
  eventbench run                                 # the built-in 10,000-event workload, 1 s per event
  eventbench generate --events 10000 --max-account-id 1000 --seed 7 --output events.csv
  eventbench run --input events.csv --workers 500 --strategy sharded
  eventbench compare --input events.csv          # sweep strategies x workers on the virtual clock
  eventbench run --json report.json && eventbench report report.json --html report.html
  eventbench verify --events events.csv --log their-log.csv   # judge another system's log
  eventbench completions bash > ~/.local/share/bash-completion/completions/eventbench
  eventbench man --dir ~/.local/share/man/man1   # then `man eventbench`, `man eventbench-run`")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate random events into a CSV file.
    Generate(generate::Args),
    /// Process a workload through per-account queues and verify the order.
    Run(run::Args),
    /// Sweep strategies x worker counts; tables, histograms, plots, regression check.
    Compare(compare::Args),
    /// Serve the original system's web API (POST /api) and process events live.
    Serve(serve::Args),
    /// Post a workload's events to a running `serve`, keeping per-account order.
    Send(send::Args),
    /// Publish a workload to RabbitMQ queues routed by account.
    Publish(publish::Args),
    /// Consume RabbitMQ queues and process events in per-account order.
    Worker(worker::Args),
    /// Show a saved report or compare document again, or render it as an HTML page.
    Report(report::Args),
    /// Judge the processed log of any system against its workload: lost, duplicated, order.
    Verify(verify::Args),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    Completions(completions::Args),
    /// Print the manual page (roff) of eventbench or of one subcommand.
    Man(man::Args),
    /// Print the version and the git commit it was built from (--verbose: rustc, profile).
    Version(version::Args),
}

/// Parses the process's command line. `--color` is read first, so that clap's own help and
/// errors follow it as the reports do.
pub fn parse() -> Cli {
    let when = ColorWhen::from_args(std::env::args_os());
    when.apply();
    let matches = Cli::command().color(when.clap()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    cli.global.color.apply();
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
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => man::run(args, Cli::command(), &cli.global),
        Command::Version(args) => version::run(args),
    }
}

use crate::error::UsageError;
pub(crate) use crate::output::check_output_paths;
use crate::types::Micros;
use crate::workload::{self, Workload};
use std::path::Path;

/// The workload a command runs: `--input`; else standard input when something is piped or
/// redirected into it; else `./events.csv` when present (what `generate` writes by default);
/// else the built-in workload. Unless `quiet`, an input not named by `--input` is announced
/// on stderr first, so a command never runs a workload the user did not expect in silence.
pub(crate) fn load_workload(
    input: Option<&Path>,
    process_time: Micros,
    quiet: bool,
    reading: crate::cli::InputArgs,
) -> anyhow::Result<Workload> {
    load_workload_with(input, process_time, quiet, true, reading)
}

/// As [`load_workload`]; `stdin_free` is false when standard input is taken for something
/// else (`verify --log -`), so it is never read for the events.
pub(crate) fn load_workload_with(
    input: Option<&Path>,
    process_time: Micros,
    quiet: bool,
    stdin_free: bool,
    reading: crate::cli::InputArgs,
) -> anyhow::Result<Workload> {
    load_led(input, process_time, quiet, stdin_free, reading, None)
}

/// [`load_workload`] whose first stderr line starts with `lead` (compare's output folder), so
/// the first line names both what is read and where the results go.
pub(crate) fn load_workload_led(
    input: Option<&Path>,
    process_time: Micros,
    quiet: bool,
    reading: crate::cli::InputArgs,
    lead: &str,
) -> anyhow::Result<Workload> {
    load_led(input, process_time, quiet, true, reading, Some(lead))
}

fn load_led(
    input: Option<&Path>,
    process_time: Micros,
    quiet: bool,
    stdin_free: bool,
    reading: crate::cli::InputArgs,
    lead: Option<&str>,
) -> anyhow::Result<Workload> {
    let path = choose_input(input, stdin_free, quiet, lead)?;
    let mut w = match path.as_deref() {
        Some(p) => crate::workload::csv::load_limited(p, process_time, reading.max_line_length)?,
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

/// Which input a command reads when `--input` may be missing (see [`load_workload`]); `None`
/// is the built-in workload.
fn choose_input(
    input: Option<&Path>,
    stdin_free: bool,
    quiet: bool,
    lead: Option<&str>,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    if let Some(p) = input {
        if let (Some(lead), false) = (lead, quiet) {
            eprintln!("{lead}");
        }
        return Ok(Some(p.to_path_buf()));
    }
    let default = Path::new("events.csv");
    let piped = stdin_free && workload::stdin_is_piped();
    let (path, note) = if piped {
        (
            Some(Path::new("-").to_path_buf()),
            "reading the events from standard input (piped or redirected; --input FILE reads \
             a file instead)",
        )
    } else if default.is_file() {
        (
            Some(default.to_path_buf()),
            "reading the events from ./events.csv (found in the working directory; --input \
             FILE to choose another)",
        )
    } else {
        (
            None,
            "using the built-in workload (no --input, no ./events.csv, nothing piped in)",
        )
    };
    // Said before waiting for the pipe's first byte, so a pipe that stays open and silent is
    // no mystery.
    if !quiet {
        match lead {
            Some(lead) => eprintln!("{lead}; {note}"),
            None => eprintln!("{note}"),
        }
    }
    // A pipe whose writer failed must not turn into another workload without a word.
    if piped && workload::stdin_is_empty().unwrap_or(false) {
        return Err(UsageError(
            "no --input given and standard input is empty (piped or redirected, but nothing \
             came): give --input FILE, pipe a workload in, or redirect </dev/null for the \
             default input"
                .into(),
        )
        .into());
    }
    Ok(path)
}

/// Refuses broker-only flags given without `--broker`. clap's `requires` cannot: it lets a
/// requirement go when the required flag conflicts with one present (`--clock virtual`,
/// `--in-memory`), and it does not see flags left at their defaults.
pub(crate) fn check_broker_only(
    broker: Option<&str>,
    given: &[(&str, bool)],
) -> anyhow::Result<()> {
    match given.iter().find(|(_, is_given)| *is_given) {
        Some((flag, _)) if broker.is_none() => Err(UsageError(format!(
            "{flag} applies only with --broker amqp://… (the events are queued in memory here)"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// The handler of a live command (`serve`, `worker`) and its faults: `--fault` turns the sleep
/// handler into one that slows or stalls the faulted accounts, and cannot reach a real one.
pub(crate) fn live_handler(
    handlers: &crate::handler::HandlerArgs,
    fault: &crate::cli::FaultArgs,
) -> anyhow::Result<(crate::handler::AnyHandler, crate::engine::fault::Faults)> {
    let faults = fault.faults()?;
    check_fault_flags(
        fault,
        &[("--handler exec:/http:", !handlers.handler.is_sleep())],
    )?;
    let handler = match faults.is_empty() {
        true => crate::handler::AnyHandler::live(handlers)?,
        false => crate::handler::AnyHandler::Faulted(std::sync::Arc::new(
            crate::engine::fault::FaultedSleep::new(&faults)?,
        )),
    };
    Ok((handler, faults))
}

/// Refuses `--fault` with what it cannot reach: a fault changes the sleep handler's work in
/// memory, not a command's, a service's or one queued elsewhere.
pub(crate) fn check_fault_flags(
    fault: &crate::cli::FaultArgs,
    given: &[(&str, bool)],
) -> anyhow::Result<()> {
    if fault.faults.is_empty() {
        return Ok(());
    }
    match given.iter().find(|(_, is_given)| *is_given) {
        Some((flag, _)) => Err(UsageError(format!(
            "--fault changes the sleep handler's work in memory; it does not apply with {flag}"
        ))
        .into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// The examples and notes after the options are written by hand, line by line: a line over
    /// 100 columns would be broken by clap mid-comment on a terminal of that width.
    #[test]
    fn every_help_epilogue_fits_100_columns() {
        let top = Cli::command();
        let mut commands = vec![top.clone()];
        commands.extend(top.get_subcommands().cloned());
        for cmd in commands {
            let name = cmd.get_name().to_string();
            let text = cmd.get_after_help().map(|t| t.to_string());
            assert!(text.is_some(), "`{name} --help` has no examples");
            for line in text.unwrap_or_default().lines() {
                let width = line.chars().count();
                assert!(
                    width <= 100,
                    "`{name} --help` has a {width}-column line: {line}"
                );
            }
        }
    }
}
