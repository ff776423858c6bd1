//! `eventbench completions SHELL`: the shell's completion script, generated from the clap
//! definitions so that it never lags behind a flag.

use clap_complete::Shell;
use std::io::Write;

/// Flags of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench completions bash > ~/.local/share/bash-completion/completions/eventbench
  eventbench completions zsh > ~/.zfunc/_eventbench     # with fpath+=(~/.zfunc) in ~/.zshrc
  eventbench completions fish > ~/.config/fish/completions/eventbench.fish
  eventbench completions powershell >> $PROFILE
  eventbench completions elvish >> ~/.config/elvish/rc.elv")]
pub struct Args {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the script for `args.shell` on stdout; `cli` is the whole command tree.
pub(crate) fn run(args: Args, mut cli: clap::Command) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "eventbench", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(())
}
