//! Real work per event: the `--handler` choice (`sleep`, `exec:COMMAND`, `http:URL`), its
//! validated settings, and the wrapper that gives real handlers timeouts, order-keeping
//! retries, a failure policy and a dead-letter file.
//!
//! The engine's executors only know [`crate::engine::work::Handler`]; everything about
//! failing and retrying happens inside one handler call (see [`guarded`]), so an account's next
//! event cannot start while this one is retried, whatever executor runs it.

pub(crate) mod dead_letter;
pub(crate) mod exec;
pub(crate) mod guarded;
pub(crate) mod http;
pub(crate) mod settle;

use crate::engine::clock::Clock;
use crate::engine::work::{Ctx, Handler, Job, SleepHandler};
use crate::engine::ClockKind;
use crate::error::UsageError;
use crate::types::Micros;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// What processing an event means (`--handler`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerSpec {
    /// Sleep the event's duration: the scheduling benchmark.
    Sleep,
    /// Run a command per event.
    Exec(exec::Template),
    /// POST the event to a URL.
    Http(http::Target),
}

impl HandlerSpec {
    pub fn is_sleep(&self) -> bool {
        matches!(self, HandlerSpec::Sleep)
    }
}

impl fmt::Display for HandlerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerSpec::Sleep => f.write_str("sleep"),
            HandlerSpec::Exec(t) => write!(f, "exec:{t}"),
            HandlerSpec::Http(t) => write!(f, "http:{t}"),
        }
    }
}

impl FromStr for HandlerSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t == "sleep" {
            return Ok(HandlerSpec::Sleep);
        }
        if let Some(cmd) = t.strip_prefix("exec:") {
            return cmd.parse().map(HandlerSpec::Exec);
        }
        if let Some(url) = t.strip_prefix("http:") {
            // `http:http://host/path` as documented; `http://host/path` alone also means it.
            let url = if url.starts_with("//") { t } else { url };
            return url.parse().map(HandlerSpec::Http);
        }
        Err(format!(
            "unknown handler '{s}' (valid: sleep, exec:COMMAND, http:URL, e.g. \
             exec:'./process.sh {{account_id}} {{event_id}}' or http:http://127.0.0.1:8080/event)"
        ))
    }
}

/// Parses `--handler`. The error is raw so that clap does not echo the value, which may hold a
/// password (`http:http://user:password@host/`); the message shows it masked.
#[derive(Clone, Copy, Debug)]
struct SpecParser;

impl clap::builder::TypedValueParser for SpecParser {
    type Value = HandlerSpec;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<HandlerSpec, clap::Error> {
        let fail = |reason: String| {
            let msg = format!("invalid value for '--handler <HANDLER>': {reason}\n");
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, msg).with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| fail("not valid UTF-8".into()))?;
        text.parse()
            .map_err(|e: String| fail(crate::url_authority::redact(&e)))
    }
}

/// What happens to an event whose retries are used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailure {
    /// Dead-letter the event and go on with the account's next event.
    Skip,
    /// Dead-letter the event and every later event of its account, which stay unprocessed.
    StopAccount,
    /// Dead-letter the event, start nothing more, dead-letter every event not started.
    Abort,
}

/// The handler flags of `run`, `serve`, `worker` and `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct HandlerArgs {
    /// What processing an event means: `sleep` (its duration), `exec:COMMAND` (run a command,
    /// split shell-style; {account_id}, {event_id}, {duration_us} are substituted; exit 0 =
    /// success) or `http:URL` (POST {"account_id":…,"event_id":…}; 2xx = success)
    #[arg(long, default_value = "sleep", value_parser = SpecParser)]
    pub handler: HandlerSpec,
    /// Append the stdout and stderr of exec: handlers to this file [default: discarded]
    #[arg(long, value_name = "FILE")]
    pub handler_output: Option<PathBuf>,
    /// A handler call running longer is killed (exec:) or abandoned (http:) and counts as a
    /// failure
    #[arg(long, default_value = "30s")]
    pub handler_timeout: Micros,
    /// Extra tries of a failed call; the account waits meanwhile, so its order holds
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
    /// Wait before the first retry; doubles on each further one, with random jitter
    #[arg(long, default_value = "100ms")]
    pub retry_backoff: Micros,
    /// What happens to an event that failed all its tries
    #[arg(long, value_enum, default_value_t = OnFailure::Skip)]
    pub on_failure: OnFailure,
    /// Write given-up (and, with stop-account/abort, unprocessed) events here: an events CSV
    /// with an `error` column, which `run --input` replays
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Exit 0 even when events were given up
    #[arg(long)]
    pub allow_failures: bool,
}

/// The failure handling of real handlers, validated.
#[derive(Clone, Debug)]
pub struct Policy {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub on_failure: OnFailure,
}

impl HandlerArgs {
    /// Checks the flags against each other and the clock, before any work.
    pub fn validate(&self, clock: ClockKind) -> Result<(), UsageError> {
        self.validate_with(clock, false)
    }

    /// [`HandlerArgs::validate`] for a run with faults: a `fail:` fault makes the sleep
    /// handler fail, so the failure flags (not the timeout or the output) apply to it.
    pub fn validate_with(&self, clock: ClockKind, failing: bool) -> Result<(), UsageError> {
        if self.handler.is_sleep() {
            let flag = self.real_only_flag(failing);
            if failing {
                crate::output::check_output_paths([self.dead_letter.as_deref()])
                    .map_err(|e| UsageError(e.to_string()))?;
            }
            return match flag {
                Some(flag) => Err(UsageError(format!(
                    "{flag} applies to exec: and http: handlers; the sleep handler never fails \
                     (pick one with --handler)"
                ))),
                None => Ok(()),
            };
        }
        if clock == ClockKind::Virtual {
            return Err(UsageError(format!(
                "--handler {} needs --clock real: the virtual clock computes a schedule from \
                 known durations without running anything, and a command's or a service's time \
                 is only known by running it",
                self.handler
            )));
        }
        if self.handler_timeout == Micros::ZERO {
            return Err(UsageError(
                "--handler-timeout must be more than 0 (every call would fail)".into(),
            ));
        }
        if let HandlerSpec::Exec(t) = &self.handler {
            t.check_program().map_err(UsageError)?;
        }
        if self.handler_output.is_some() && !matches!(self.handler, HandlerSpec::Exec(_)) {
            return Err(UsageError(
                "--handler-output applies to exec: handlers only".into(),
            ));
        }
        crate::output::check_output_paths([
            self.handler_output.as_deref(),
            self.dead_letter.as_deref(),
        ])
        .map_err(|e| UsageError(e.to_string()))
    }

    /// The first flag set away from its default that only a real handler can use: with the
    /// sleep handler it would be silently meaningless.
    /// With `failing` (a `fail:` fault), the failure flags are the sleep handler's too.
    fn real_only_flag(&self, failing: bool) -> Option<&'static str> {
        let defaults = HandlerArgs::default_for_sleep();
        [
            ("--handler-output", self.handler_output.is_some()),
            (
                "--handler-timeout",
                self.handler_timeout != defaults.handler_timeout,
            ),
            ("--retries", self.retries != defaults.retries),
            (
                "--retry-backoff",
                self.retry_backoff != defaults.retry_backoff,
            ),
            ("--on-failure", self.on_failure != defaults.on_failure),
            ("--dead-letter", self.dead_letter.is_some()),
            ("--allow-failures", self.allow_failures),
        ]
        .into_iter()
        .filter(|(flag, _)| !failing || matches!(*flag, "--handler-output" | "--handler-timeout"))
        .find_map(|(flag, set)| set.then_some(flag))
    }

    /// The flags as clap fills them when none is given.
    pub(crate) fn default_for_sleep() -> Self {
        Self::from_flags(&[])
    }

    /// The handler flags alone, parsed as clap parses them inside a command.
    fn from_flags(flags: &[&str]) -> Self {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            h: HandlerArgs,
        }
        let argv = std::iter::once("eventbench").chain(flags.iter().copied());
        let m = <Only as clap::CommandFactory>::command().get_matches_from(argv);
        Only::from_arg_matches(&m).expect("flags that parsed").h
    }

    /// What `compare` cannot do with a real handler: run it through RabbitMQ (the broker
    /// sweep runs the sleep handler), or write one dead-letter file for a whole sweep.
    pub fn check_sweep(&self, broker: bool) -> Result<(), UsageError> {
        if self.handler.is_sleep() {
            return Ok(());
        }
        if broker {
            return Err(UsageError(
                "compare --broker runs the sleep handler; use `worker --handler` for your own \
                 handler through RabbitMQ"
                    .into(),
            ));
        }
        if self.dead_letter.is_some() {
            return Err(UsageError(
                "compare counts given-up events per run (given_up in compare.json) but writes \
                 no dead-letter file; use `run --dead-letter` for one run"
                    .into(),
            ));
        }
        Ok(())
    }

    /// How a `fail:` fault's events are retried and given up: as this guard would.
    pub fn fail_model(&self) -> crate::engine::fault::FailModel {
        use crate::engine::fault::AfterFail;
        crate::engine::fault::FailModel {
            retries: self.retries,
            backoff: self.retry_backoff,
            after: match self.on_failure {
                OnFailure::Skip => AfterFail::Skip,
                OnFailure::StopAccount => AfterFail::StopAccount,
                OnFailure::Abort => AfterFail::Abort,
            },
        }
    }

    pub fn policy(&self) -> Policy {
        Policy {
            timeout: self.handler_timeout.as_duration(),
            retries: self.retries,
            backoff: self.retry_backoff.as_duration(),
            on_failure: self.on_failure,
        }
    }
}

/// Exit 1 when events were given up, unless the user allowed it.
pub(crate) fn check_failures(
    report: &crate::report::Report,
    h: &HandlerArgs,
) -> anyhow::Result<()> {
    let r = &report.handling;
    if r.given_up == 0 || h.allow_failures {
        return Ok(());
    }
    let file = h
        .dead_letter
        .as_ref()
        .map_or(String::new(), |p| format!(" (see {})", p.display()));
    Err(crate::error::CheckFailed(format!(
        "{} events given up after {} failed calls, {} more not attempted{file}; \
         --allow-failures to accept",
        r.given_up, r.handler_failures, r.not_attempted
    ))
    .into())
}

/// Writes the dead-letter file of a batch run, or says where the given-up events would have
/// gone.
pub(crate) fn write_dead_letters(h: &HandlerArgs, rows: &[dead_letter::Row]) -> anyhow::Result<()> {
    match &h.dead_letter {
        Some(path) => dead_letter::write_file(path, rows),
        None if !rows.is_empty() => {
            eprintln!(
                "{} events were dead-lettered; pass --dead-letter FILE to keep them for a replay",
                rows.len()
            );
            Ok(())
        }
        None => Ok(()),
    }
}

/// The handler of a live run (`serve`, `worker`): chosen at run time, one type for the engine.
#[derive(Clone, Default)]
pub enum AnyHandler {
    #[default]
    Sleep,
    Guarded(guarded::Shared),
    /// The sleep handler with slow or stalled accounts (`worker --fault`).
    Faulted(std::sync::Arc<crate::engine::fault::FaultedSleep>),
}

impl AnyHandler {
    /// Builds the handler `args` names; real handlers append dead letters as they happen.
    pub fn live(args: &HandlerArgs) -> anyhow::Result<Self> {
        Ok(match args.handler {
            HandlerSpec::Sleep => AnyHandler::Sleep,
            _ => AnyHandler::Guarded(guarded::Shared(std::sync::Arc::new(guarded::Guarded::new(
                args, true,
            )?))),
        })
    }

    pub fn guarded(&self) -> Option<&std::sync::Arc<guarded::Guarded>> {
        match self {
            AnyHandler::Sleep | AnyHandler::Faulted(_) => None,
            AnyHandler::Guarded(g) => Some(&g.0),
        }
    }
}

impl fmt::Debug for AnyHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnyHandler::Sleep => "sleep",
            AnyHandler::Guarded(_) => "guarded",
            AnyHandler::Faulted(_) => "sleep with faults",
        })
    }
}

impl Handler for AnyHandler {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        use futures_util::future::Either;
        match self {
            AnyHandler::Sleep => Either::Left(SleepHandler.handle(job, ctx)),
            // The same sleep, for the faulted time.
            AnyHandler::Faulted(f) => {
                let job = Job {
                    duration: f.duration(&job),
                    ..job
                };
                Either::Left(SleepHandler.handle(job, ctx))
            }
            AnyHandler::Guarded(g) => Either::Right(g.handle(job, ctx)),
        }
    }

    fn takes_declared_time(&self) -> bool {
        !matches!(self, AnyHandler::Guarded(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_name_the_valid_forms() {
        assert_eq!("sleep".parse::<HandlerSpec>().unwrap(), HandlerSpec::Sleep);
        let e: HandlerSpec = "exec:/bin/echo {event_id}".parse().unwrap();
        assert_eq!(e.to_string(), "exec:/bin/echo {event_id}");
        let h: HandlerSpec = "http:http://127.0.0.1:9/x".parse().unwrap();
        assert_eq!(h.to_string(), "http:http://127.0.0.1:9/x");
        let bare: HandlerSpec = "http://127.0.0.1:9/x".parse().unwrap();
        assert_eq!(bare, h);
        assert!("ftp:x"
            .parse::<HandlerSpec>()
            .unwrap_err()
            .contains("exec:COMMAND"));
        assert!("exec:".parse::<HandlerSpec>().is_err());
        assert!("exec:'unclosed".parse::<HandlerSpec>().is_err());
        assert!("http:nonsense".parse::<HandlerSpec>().is_err());
    }

    fn parsed(flags: &[&str]) -> HandlerArgs {
        HandlerArgs::from_flags(flags)
    }

    #[test]
    fn the_sleep_handler_refuses_flags_only_a_real_handler_can_use() {
        assert!(parsed(&[]).validate(ClockKind::Virtual).is_ok());
        for (flags, named) in [
            (&["--retries", "3"][..], "--retries"),
            (&["--on-failure", "abort"][..], "--on-failure"),
            (&["--dead-letter", "dl.csv"][..], "--dead-letter"),
            (&["--handler-timeout", "1s"][..], "--handler-timeout"),
            (&["--allow-failures"][..], "--allow-failures"),
        ] {
            let e = parsed(flags).validate(ClockKind::Real).unwrap_err();
            assert!(e.0.starts_with(named), "{flags:?}: {}", e.0);
        }
        let mut real = vec!["--handler", "exec:/bin/true", "--retries", "3"];
        assert!(parsed(&real).validate(ClockKind::Real).is_ok());
        real.extend(["--on-failure", "abort", "--allow-failures"]);
        assert!(parsed(&real).validate(ClockKind::Real).is_ok());
    }
}
