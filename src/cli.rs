//! The flag groups that several subcommands share (clap derive; the doc comments are the
//! help text). Each subcommand's own flags live beside its `run` in `cmd/<name>.rs`, which
//! flattens the groups it needs; this module names no subcommand.

use crate::broker::amqp::{Brokers, QueueType};
use crate::color::ColorWhen;
use crate::engine::timer::TimerMode;
use crate::engine::{ClockKind, Plan, Strategy, Workers};
use crate::error::UsageError;
use crate::report::repeat::Repeat;
use crate::types::Micros;
use crate::workload::line_limit::MaxLineLength;
use clap::Args;

/// Options accepted by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Show no progress bars or notes on stderr (bars appear only on a terminal anyway).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Colour the report, help and errors: auto (on a terminal, unless NO_COLOR is set),
    /// always (pipes and files too) or never
    #[arg(long, value_enum, value_name = "WHEN", global = true, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// How input files are read (`run`, `compare`, `send`, `publish`, `verify`, `report`).
#[derive(Debug, Clone, Copy, Args)]
pub struct InputArgs {
    /// Longest line accepted in an input file (events CSV, log, --sent file, a report or
    /// baseline JSON): a longer line is an error naming it, so a file without line ends cannot
    /// exhaust memory. Bytes, or e.g. 4MiB, 10MB
    #[arg(long, default_value = "1MiB", value_name = "SIZE")]
    pub max_line_length: MaxLineLength,
}

/// What runs the events and how long each takes (`run`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Most events in flight: `auto` (one lane per account) or a number ≥ 1
    #[arg(long, short, default_value = "auto")]
    pub workers: Workers,
    /// How events are assigned to workers (`sharded` needs a number of workers)
    #[arg(long, short, value_enum, default_value_t = Strategy::Optimal)]
    pub strategy: Strategy,
    #[command(flatten)]
    pub timing: TimingArgs,
}

impl EngineArgs {
    /// The strategy and the worker count, checked against each other.
    pub fn plan(&self) -> Result<Plan, crate::error::UsageError> {
        Plan::new(self.strategy, self.workers)
    }
}

/// How long an event takes and how real-clock sleeps end (`run`, `compare`, `serve`,
/// `worker`).
#[derive(Debug, Clone, Copy, Args)]
pub struct TimingArgs {
    /// Processing time of an event that carries none of its own (no duration_us), e.g. 1s,
    /// 250ms
    #[arg(long, default_value = "1s")]
    pub process_time: Micros,
    /// How real-clock sleeps end: `precise` (a worker stays up from 1 ms before a deadline
    /// and ends the sleep within microseconds: costs CPU while deadlines are near) or `sleep`
    /// (kernel wait only: no spinning, ends ~50-100 µs late)
    #[arg(long, value_enum, default_value_t = TimerMode::Precise)]
    pub timer: TimerMode,
}

/// Repeated measurement of a real-clock run (`run`, `compare`).
#[derive(Debug, Clone, Copy, Args)]
pub struct RepeatArgs {
    /// Measure each configuration N times on the real clock and report the mean wall time
    /// (efficiency and throughput from the mean) with its sample σ, min and max
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// Run each configuration N times more before the measured runs, and discard them
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub warmup: u32,
}

impl RepeatArgs {
    /// The repetition, refused on the virtual clock, where every run gives the same figure.
    pub(crate) fn repeat(&self, clock: ClockKind) -> Result<Repeat, UsageError> {
        let repeat = Repeat {
            warmup: self.warmup,
            runs: self.runs,
        };
        if repeat != Repeat::ONCE && clock == ClockKind::Virtual {
            return Err(UsageError(
                "--runs and --warmup measure the spread of real-clock runs; on the virtual clock a run \
                 is exact and every repeat gives the same figure (add --clock real)"
                    .into(),
            ));
        }
        Ok(repeat)
    }
}

/// Help of `--broker`, the same on every command that has it.
pub(crate) const BROKER_HELP: &str = "RabbitMQ URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2f. \
Repeat it for the nodes of a cluster: the first that answers is used, and a lost connection \
is re-opened to the next";

/// Help of `--queue-type`.
pub(crate) const QUEUE_TYPE_HELP: &str =
    "Type of the queues declared: classic (one node holds each \
queue) or quorum (replicated on the cluster's nodes: survives losing a minority of them; \
slower to publish). A queue that exists with the other type is an error";

/// The RabbitMQ queues a command works on (`publish`, `worker`).
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    #[arg(long, required = true, value_name = "URL", value_parser = BrokerUrl, help = BROKER_HELP)]
    pub broker: Vec<String>,
    #[arg(long, value_enum, default_value_t = QueueType::Classic, help = QUEUE_TYPE_HELP)]
    pub queue_type: QueueType,
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
        let brokers = Brokers::new(self.broker.clone());
        crate::broker::amqp::Topology::new(brokers, self.queues, &self.queue_prefix)
            .with_queue_type(self.queue_type)
    }
}

/// Parses `--broker`: a malformed URL is bad usage (exit 2), found before anything connects.
/// The error is raw so that clap does not echo the value, which may hold a password.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BrokerUrl;

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

/// Injected faults (`run`, `compare`): how far one bad account spreads.
#[derive(Debug, Clone, Default, Args)]
pub struct FaultArgs {
    /// Inject a fault (repeatable): `slow:ACCOUNT:FACTOR` (every event of the account takes
    /// FACTOR× its time), `stall:ACCOUNT:DURATION` (its first event takes DURATION longer) or
    /// `fail:ACCOUNT` (every event fails after its time; --retries, --on-failure and
    /// --dead-letter apply). The report then counts the other accounts it delayed
    #[arg(long = "fault", value_name = "FAULT")]
    pub faults: Vec<crate::engine::fault::Fault>,
}

impl FaultArgs {
    /// The faults, checked against each other (an account's events are checked at load).
    pub fn faults(&self) -> Result<crate::engine::fault::Faults, UsageError> {
        crate::engine::fault::Faults::new(self.faults.clone())
    }

    /// Whether a `fail:` fault was given (the sleep handler then takes the failure flags).
    pub fn has_fail(&self) -> bool {
        self.faults
            .iter()
            .any(|f| f.kind == crate::engine::fault::FaultKind::Fail)
    }
}

/// A listening address: `IP:PORT` (`[::1]:PORT`), or `HOST:PORT` with the host resolved as
/// `send --url` resolves it (`localhost`: the loopback address, IPv4 first).
pub(crate) fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!(
            "'{s}' is not an address: expected IP:PORT or HOST:PORT, e.g. 127.0.0.1:3910 or \
             localhost:3910"
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{s}': port '{port}' is not a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<std::net::SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("'{s}': cannot resolve host '{host}': {e}"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("'{s}': host '{host}' has no address"))
}

#[cfg(test)]
mod listen_tests {
    use super::parse_listen;

    #[test]
    fn addresses_and_host_names() {
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(parse_listen("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_listen("localhost:3940").unwrap().ip().is_loopback());
        assert!(parse_listen("localhost").unwrap_err().contains("HOST:PORT"));
        assert!(parse_listen("localhost:http").unwrap_err().contains("port"));
    }
}
