//! Domain errors and the mapping from an error chain to the process exit code.

use std::io::Write;
use std::path::PathBuf;

/// Exit code: the run completed but failed a check (ordering violation, regression).
pub(crate) const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: bad usage or bad input; nothing was processed and no output file was written.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: the run could not complete (I/O failure, lost broker connection, ...).
pub(crate) const EXIT_RUNTIME: u8 = 3;
/// Exit code: stopped by Ctrl-C after printing the partial report (128 + SIGINT, as shells do).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// A malformed or unreadable input file: names the file, the line (1-based) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Line {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
}

/// Bad usage that clap's parsers cannot see on their own (a combination of flags, a bad value).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Why a server could not listen on `addr` (given with `flag`): a port in use is bad usage
/// (exit 2) with the way out spelled; anything else stays an I/O error.
pub(crate) fn cannot_listen(
    addr: std::net::SocketAddr,
    flag: &str,
    e: std::io::Error,
) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        return UsageError(format!(
            "cannot listen on {addr}: the port is in use (another eventbench, or another \
             program, listens there); choose another with {flag}, e.g. {flag} 127.0.0.1:0 for \
             any free port (the address is printed)"
        ))
        .into();
    }
    anyhow::Error::new(e).context(format!("cannot listen on {addr}"))
}

/// The run completed, but a check failed: ordering violated, or a regression beyond tolerance.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

/// Stopped by Ctrl-C after printing what ran (exit 130).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Interrupted {
    /// A run, with this many events never started; its partial report has been printed.
    #[error("interrupted: {0} events never started (the partial report above covers the rest)")]
    Events(u64),
    /// A sweep, after this many runs; their table and files have been written.
    #[error("interrupted: the sweep stopped after {0} runs")]
    Sweep(usize),
}

/// Maps an error chain to the documented exit code.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<InputError>() || cause.is::<UsageError>() {
            return EXIT_BAD_INPUT;
        }
        if cause.is::<CheckFailed>() {
            return EXIT_CHECK_FAILED;
        }
        if cause.is::<Interrupted>() {
            return EXIT_INTERRUPTED;
        }
    }
    EXIT_RUNTIME
}

/// The error and its causes on one line, `outer: cause: root`, like anyhow's `{:#}` but
/// without repeating a cause that the message before it already quotes: many errors (ours
/// with `{source}`, lapin's, hyper's) put their source into their own message as well. URL
/// passwords are masked.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !previous.is_empty() && previous.contains(text.as_str()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        previous = text;
    }
    // The last line of defence: a library's message (reqwest's, say) may quote a URL whole.
    crate::url_authority::redact(&out)
}

/// Prints `error: …` on stderr, the label in red where stderr gets colour (`--color`).
pub fn print_error(err: &anyhow::Error) {
    let label = crate::color::paint(crate::color::FAIL, "error:");
    let _ = writeln!(anstream::stderr(), "{label} {}", render(err));
}

/// True when the error is a closed stdout/stderr pipe (`eventbench ... | head`): exit quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(|e| e.kind()) == pipe
            // serde_json's error hides its io::Error from the chain (its `source` skips it).
            || c.downcast_ref::<serde_json::Error>().and_then(|e| e.io_error_kind()) == pipe
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        let bad = anyhow::Error::new(UsageError("x".into())).context("while parsing");
        assert_eq!(exit_code(&bad), EXIT_BAD_INPUT);
        let check = anyhow::Error::new(CheckFailed("order".into()));
        assert_eq!(exit_code(&check), EXIT_CHECK_FAILED);
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), EXIT_RUNTIME);
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe));
    }

    #[test]
    fn a_json_report_into_a_closed_pipe_is_a_broken_pipe() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::new(serde_json::Error::io(io));
        assert!(is_broken_pipe(&err));
        let other = serde_json::Error::io(std::io::Error::other("disk"));
        assert!(!is_broken_pipe(&anyhow::Error::new(other)));
    }

    #[test]
    fn a_cause_quoted_by_its_parent_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::new(InputError::Io {
            path: "a.csv".into(),
            source: io,
        })
        .context("cannot load");
        assert_eq!(render(&err), "cannot load: a.csv: gone");
    }

    #[test]
    fn causes_not_quoted_are_all_shown() {
        let err = anyhow::anyhow!("refused")
            .context("tcp connect")
            .context("cannot send");
        assert_eq!(render(&err), "cannot send: tcp connect: refused");
    }
}
