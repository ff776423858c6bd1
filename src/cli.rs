//! The command line: clap derive types whose doc comments are the help text.
//!
//! Each subcommand's own flags live beside its `run` in `cmd/<name>.rs`; this module holds the
//! top level and the options every command shares.

use crate::cmd;
use crate::engine::timer::TimerMode;
use clap::{Args, Parser, Subcommand};

/// Process per-account event streams in strict per-account order, as fast as this machine
/// allows; verify the order and measure the result against the theoretical lower bound.
#[derive(Debug, Parser)]
#[command(name = "eventbench", version, propagate_version = true)]
#[command(after_help = "Examples:
  eventbench run                                 # the built-in 10,000-event workload, 1 s per event
  eventbench generate --events 10000 --max-account-id 1000 --seed 7 --output events.csv
  eventbench run --input events.csv --workers 500 --strategy sharded
  eventbench compare --input events.csv          # sweep strategies x workers on the virtual clock
  eventbench run --json report.json && eventbench report report.json --html report.html
  eventbench verify --events events.csv --log their-log.csv   # judge another system's log")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Show no progress bars or notes on stderr (bars appear only on a terminal anyway).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate random events into a CSV file.
    Generate(cmd::generate::Args),
    /// Process a workload through per-account queues and verify the order.
    Run(cmd::run::Args),
    /// Sweep strategies x worker counts; tables, histograms, plots, regression check.
    Compare(cmd::compare::Args),
    /// Serve the original system's web API (POST /api) and process events live.
    Serve(cmd::serve::Args),
    /// Post a workload's events to a running `serve`, keeping per-account order.
    Send(cmd::send::Args),
    /// Publish a workload to RabbitMQ queues routed by account.
    Publish(cmd::publish::Args),
    /// Consume RabbitMQ queues and process events in per-account order.
    Worker(cmd::worker::Args),
    /// Show a saved report or compare document again, or render it as an HTML page.
    Report(cmd::report::Args),
    /// Judge the processed log of any system against its workload: lost, duplicated, order.
    Verify(cmd::verify::Args),
}

/// How real-clock sleeps end (`run`, `compare`, `serve`, `worker`).
#[derive(Debug, Clone, Copy, Args)]
pub struct TimerArgs {
    /// How real-clock sleeps end: `precise` (a worker stays up from 1 ms before a deadline
    /// and ends the sleep within microseconds: costs CPU while deadlines are near) or `sleep`
    /// (kernel wait only: no spinning, ends ~50-100 µs late)
    #[arg(long, value_enum, default_value_t = TimerMode::Precise)]
    pub timer: TimerMode,
}

/// The RabbitMQ queues a command works on (`publish`, `worker`).
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// RabbitMQ URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2f
    #[arg(long, value_parser = BrokerUrl)]
    pub broker: String,
    /// Number of queues PREFIX.0 .. PREFIX.N-1; an account's events all go to queue
    /// account_id % N
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub queues: u32,
    /// Queue name prefix
    #[arg(long, default_value = crate::broker::amqp::DEFAULT_PREFIX)]
    pub queue_prefix: String,
}

impl QueueArgs {
    pub fn topology(&self) -> crate::broker::amqp::Topology {
        crate::broker::amqp::Topology::new(&self.broker, self.queues, &self.queue_prefix)
    }
}

/// Parses `--broker`: a malformed URL is bad usage (exit 2), found before anything connects.
/// The error is raw so that clap does not echo the value, which may hold a password.
#[derive(Clone, Copy, Debug)]
pub struct BrokerUrl;

impl clap::builder::TypedValueParser for BrokerUrl {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let flag = arg.map_or_else(|| "--broker".to_string(), |a| format!("--{}", a.get_id()));
        let fail = |reason: String| {
            let msg = format!("invalid value for {flag}: {reason}\n");
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, msg).with_cmd(cmd)
        };
        let url = value
            .to_str()
            .ok_or_else(|| fail("not valid UTF-8".into()))?;
        crate::broker::amqp::check_url(url).map_err(fail)?;
        Ok(url.to_string())
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
