//! `eventbench man`: manual pages in roff, generated from the clap definitions. One page per
//! command, as git does it: eventbench(1) lists the subcommands, eventbench-run(1) and its
//! siblings carry their flags; a single page would bury `run`'s flags among eight others.

use crate::cli::GlobalArgs;
use crate::error::UsageError;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags of `man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench man | man -l -                      # read eventbench(1) now
  eventbench man run | man -l -                  # the page of one subcommand, eventbench-run(1)
  eventbench man --dir ~/.local/share/man/man1   # install every page; then `man eventbench-run`

Without COMMAND: eventbench(1), whose SUBCOMMANDS section names eventbench-COMMAND(1) for each.")]
pub struct Args {
    /// A subcommand whose page to print instead of the top one (e.g. run)
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write every page (eventbench.1 and eventbench-COMMAND.1 for each subcommand) into this
    /// folder instead of printing one
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints (or writes) the pages of `cli`, the whole command tree.
pub(crate) fn run(args: Args, cli: clap::Command, global: &GlobalArgs) -> anyhow::Result<()> {
    let top = tree(cli);
    if let Some(dir) = &args.dir {
        let written = write_all(&top, dir)?;
        if !global.quiet {
            eprintln!("wrote {written} pages into {}", dir.display());
        }
        return Ok(());
    }
    let cmd = match &args.command {
        None => top,
        Some(name) => find(&top, name)?,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&render(cmd)?)?;
    stdout.flush()?;
    Ok(())
}

/// The tree as the pages show it: built (so subcommands carry their `eventbench-NAME` names
/// and the global flags), without clap's `help` subcommand, which has no page.
fn tree(cli: clap::Command) -> clap::Command {
    let mut top = cli.disable_help_subcommand(true);
    top.build();
    top
}

fn find(top: &clap::Command, name: &str) -> anyhow::Result<clap::Command> {
    top.find_subcommand(name).cloned().ok_or_else(|| {
        let names: Vec<&str> = pages(top).skip(1).map(|c| c.get_name()).collect();
        UsageError(format!(
            "no subcommand `{name}`; pages exist for: {}",
            names.join(", ")
        ))
        .into()
    })
}

/// The top command, then each visible subcommand.
fn pages(top: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    std::iter::once(top).chain(top.get_subcommands().filter(|s| !s.is_hide_set()))
}

/// The page of `cmd`, footed `eventbench VERSION` on every page (clap_mangen would put the
/// subcommand's own name there).
fn manual(cmd: &clap::Command) -> clap_mangen::Man {
    let version = cmd.get_version().unwrap_or_default();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("eventbench {version}"))
        .manual("eventbench manual")
}

/// clap_mangen's sections, except that the examples and notes after the flags (clap's
/// `after_help`) are set as written (`.nf`): filled, their aligned `# comments` would run
/// into the commands.
fn render(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut page = Vec::new();
    let man = manual(&cmd);
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut page)?;
    }
    if let Some(after) = cmd.get_after_help() {
        page.extend_from_slice(examples(&after.to_string()).as_bytes());
    }
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// The EXAMPLES section: the text line by line, unfilled, escaped for roff.
fn examples(text: &str) -> String {
    let mut out = String::from(".SH EXAMPLES\n.nf\n");
    for line in text.lines().skip_while(|l| l.trim() == "Examples:") {
        out.push_str(&roff_line(line));
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}

/// One line of text as roff reads it literally: a backslash is `\e`, a hyphen `\-` (so a
/// flag copied from the page is an ASCII minus, not a typographic hyphen), and a line
/// beginning with `.` or `'` is not taken for a request.
fn roff_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    if line.starts_with(['.', '\'']) {
        out.push_str("\\&");
    }
    for c in line.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c => out.push(c),
        }
    }
    out
}

fn write_all(top: &clap::Command, dir: &Path) -> anyhow::Result<usize> {
    if !dir.is_dir() {
        return Err(UsageError(format!("{}: no such folder", dir.display())).into());
    }
    let mut written = 0;
    for cmd in pages(top) {
        let path = dir.join(manual(cmd).get_filename());
        let page = render(cmd.clone())?;
        crate::output::write_atomic(&path, |f| Ok(f.write_all(&page)?))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_lines_are_literal_roff() {
        assert_eq!(roff_line("  a --b \\x"), "  a \\-\\-b \\ex");
        assert_eq!(roff_line(".hidden"), "\\&.hidden");
        let text = examples("Examples:\n  eventbench run\n\nnote");
        assert_eq!(text, ".SH EXAMPLES\n.nf\n  eventbench run\n\nnote\n.fi\n");
    }
}
