//! `exec:COMMAND`: one process per event, without a shell unless the user writes one.

use crate::engine::work::Job;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::str::FromStr;

/// A piece of an argument: literal text or a per-event value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    AccountId,
    EventId,
    DurationUs,
}

/// A command line split shell-style once, with its placeholders found once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    args: Vec<Vec<Piece>>,
}

impl FromStr for Template {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words = shlex::split(s).ok_or_else(|| {
            format!(
                "exec:{}: unbalanced quotes or a trailing backslash in the command",
                crate::url_authority::redact(s)
            )
        })?;
        if words.is_empty() {
            return Err("exec: needs a command, e.g. exec:'./process.sh {account_id}'".into());
        }
        Ok(Template {
            source: s.to_string(),
            args: words.iter().map(|w| pieces(w)).collect(),
        })
    }
}

/// The command as given, less the passwords of any URLs in it: this is what reports show.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::url_authority::redact(&self.source))
    }
}

/// Splits a word at the known placeholders; other braces are left alone (`sh -c 'echo ${x}'`).
fn pieces(word: &str) -> Vec<Piece> {
    const NAMES: [(&str, Piece); 3] = [
        ("{account_id}", Piece::AccountId),
        ("{event_id}", Piece::EventId),
        ("{duration_us}", Piece::DurationUs),
    ];
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = word;
    'scan: while !rest.is_empty() {
        for (name, piece) in &NAMES {
            if let Some(after) = rest.strip_prefix(name) {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(piece.clone());
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() || out.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

impl Template {
    /// One argument vector for `job` (the program is the first word).
    pub fn render(&self, job: &Job) -> Vec<String> {
        self.args
            .iter()
            .map(|word| {
                let mut s = String::new();
                for p in word {
                    match p {
                        Piece::Text(t) => s.push_str(t),
                        Piece::AccountId => s.push_str(itoa::Buffer::new().format(job.account.0)),
                        Piece::EventId => s.push_str(itoa::Buffer::new().format(job.event.0)),
                        Piece::DurationUs => s.push_str(itoa::Buffer::new().format(job.duration.0)),
                    }
                }
                s
            })
            .collect()
    }

    /// Fails early when the program cannot be found or run, rather than giving every event up
    /// for the same reason. A program made from placeholders can only be checked per event.
    pub fn check_program(&self) -> Result<(), String> {
        let [Piece::Text(program)] = self.args[0].as_slice() else {
            return Ok(());
        };
        let found = if program.contains('/') {
            Some(PathBuf::from(program)).filter(|p| is_executable(p))
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(program))
                    .find(|p| is_executable(p))
            })
        };
        match found {
            Some(_) => Ok(()),
            None if program.contains('/') => Err(format!(
                "exec:{}: {program} does not exist or is not executable",
                self.source
            )),
            None => Err(format!(
                "exec:{}: {program} is not found in PATH",
                self.source
            )),
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs commands from a template; their output goes to one file or nowhere.
pub struct ExecHandler {
    template: Template,
    output: Option<File>,
}

impl ExecHandler {
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Opens (appends to) `output` if given.
    pub fn new(template: Template, output: Option<&Path>) -> anyhow::Result<Self> {
        use anyhow::Context;
        let output = output
            .map(|p| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("cannot open --handler-output {}", p.display()))
            })
            .transpose()?;
        Ok(ExecHandler { template, output })
    }

    fn sink(&self) -> Stdio {
        self.output
            .as_ref()
            .and_then(|f| f.try_clone().ok())
            .map_or_else(Stdio::null, Stdio::from)
    }

    /// Runs the command for `job`; dropping the future kills the process (the timeout does).
    pub async fn call(&self, job: &Job) -> Result<(), String> {
        let argv = self.template.render(job);
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env("EVENTBENCH_ACCOUNT_ID", job.account.0.to_string())
            .env("EVENTBENCH_EVENT_ID", job.event.0.to_string())
            .env("EVENTBENCH_DURATION_US", job.duration.0.to_string())
            .stdin(Stdio::null())
            .stdout(self.sink())
            .stderr(self.sink())
            .kill_on_drop(true);
        // Starting a process blocks the calling thread until the child has called exec
        // (posix_spawn/vfork); on a runtime worker that would stall every other handler of
        // its group meanwhile, so starts happen on the blocking pool, several at once. If
        // the call is dropped (timeout) before the start returns, the child is dropped with
        // the task's result and killed (kill_on_drop).
        let started = tokio::task::spawn_blocking(move || cmd.spawn()).await;
        let cannot = |e: &dyn std::fmt::Display| format!("cannot start {}: {e}", argv[0]);
        let mut child = match started {
            Ok(Ok(child)) => child,
            Ok(Err(e)) => return Err(cannot(&e)),
            Err(e) => return Err(cannot(&e)),
        };
        let status = child.wait().await.map_err(|e| cannot(&e))?;
        describe(status)
    }
}

fn describe(status: ExitStatus) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return Ok(());
    }
    Err(match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => format!("failed: {status}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccountId, EventId, EventIdx, Micros};

    fn job() -> Job {
        Job {
            index: EventIdx(0),
            event: EventId(42),
            account: AccountId(7),
            duration: Micros(1500),
        }
    }

    #[test]
    fn placeholders_are_substituted_inside_words_without_a_shell() {
        let t: Template = "echo 'a b' acct={account_id} {event_id}/{duration_us} ${x} {other}"
            .parse()
            .unwrap();
        assert_eq!(
            t.render(&job()),
            ["echo", "a b", "acct=7", "42/1500", "${x}", "{other}"]
        );
    }

    #[test]
    fn missing_programs_are_found_before_any_work() {
        let t: Template = "definitely-not-a-program-xyz {event_id}".parse().unwrap();
        assert!(t.check_program().unwrap_err().contains("not found in PATH"));
        let t: Template = "/no/such/prog".parse().unwrap();
        assert!(t.check_program().unwrap_err().contains("does not exist"));
        assert!("sh -c true"
            .parse::<Template>()
            .unwrap()
            .check_program()
            .is_ok());
        let dynamic: Template = "{account_id}.sh".parse().unwrap();
        assert!(dynamic.check_program().is_ok());
    }

    #[tokio::test]
    async fn exit_status_decides_success() {
        let ok = ExecHandler::new("true".parse().unwrap(), None).unwrap();
        assert_eq!(ok.call(&job()).await, Ok(()));
        let fail = ExecHandler::new("sh -c 'exit 3'".parse().unwrap(), None).unwrap();
        assert_eq!(fail.call(&job()).await, Err("exit status 3".into()));
        let env = ExecHandler::new(
            "sh -c 'test \"$EVENTBENCH_ACCOUNT_ID/$EVENTBENCH_EVENT_ID\" = 7/42'"
                .parse()
                .unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(env.call(&job()).await, Ok(()));
    }
}
