//! Terminal colour: the `--color` choice and the few styles the terminal reports use. Text is
//! styled with anstyle where it is made; everything bound for a terminal is written through
//! anstream, which drops the styles when the stream should not get them. So a file or a pipe
//! sees no escape code unless `--color always`.

use anstyle::{AnsiColor, Style};
use std::ffi::OsString;
use std::fmt::Display;

/// When to colour (`--color`). The variants have no doc comments on purpose: clap would show
/// them as a list of possible values and switch every `--help` to its long layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    // Only on a terminal, and not when NO_COLOR is set to anything but the empty string.
    #[default]
    Auto,
    // Even into a file or a pipe.
    Always,
    Never,
}

impl ColorWhen {
    fn choice(self) -> anstream::ColorChoice {
        match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        }
    }

    /// The same choice for clap's help and error messages.
    pub(crate) fn clap(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }

    /// The `--color` of a command line, read before clap parses it, so that clap's own help
    /// and errors follow it too. The last one given wins, as clap would take it; a value that
    /// is not a choice reads as `auto` here and clap then refuses it.
    pub(crate) fn from_args(args: impl IntoIterator<Item = OsString>) -> ColorWhen {
        let mut when = ColorWhen::Auto;
        let mut args = args.into_iter().skip(1);
        while let Some(arg) = args.next() {
            let Some(arg) = arg.to_str() else { continue };
            let value = match arg {
                "--" => break,
                "--color" => args.next().and_then(|v| v.into_string().ok()),
                _ => arg.strip_prefix("--color=").map(str::to_string),
            };
            if let Some(v) = value {
                when = clap::ValueEnum::from_str(&v, false).unwrap_or(ColorWhen::Auto);
            }
        }
        when
    }

    /// Makes every later write through anstream (ours and clap's) follow this choice. `auto`
    /// decides per stream: colour on a terminal unless NO_COLOR is set and not empty (also
    /// CLICOLOR=0 turns it off, CLICOLOR_FORCE=1 on, TERM=dumb off).
    pub(crate) fn apply(self) {
        self.choice().write_global();
    }
}

/// A check that held: `ok`.
pub(crate) const OK: Style = AnsiColor::Green.on_default();
/// A check that failed: `FAILED`, violations, regressions.
pub(crate) const FAIL: Style = AnsiColor::Red.on_default().bold();
/// A warning that is not a failure.
pub(crate) const WARN: Style = AnsiColor::Yellow.on_default();
/// A note beside the figures.
pub(crate) const NOTE: Style = Style::new().dimmed();

/// `text` in `style`, for a stream written through anstream.
pub(crate) fn paint(style: Style, text: impl Display) -> String {
    format!("{style}{text}{style:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(args: &[&str]) -> ColorWhen {
        ColorWhen::from_args(args.iter().map(OsString::from))
    }

    #[test]
    fn color_is_read_before_parsing() {
        assert_eq!(when(&["eb", "run"]), ColorWhen::Auto);
        assert_eq!(when(&["eb", "--color", "never", "run"]), ColorWhen::Never);
        assert_eq!(when(&["eb", "run", "--color=always"]), ColorWhen::Always);
        let last = when(&["eb", "--color=never", "run", "--color", "always"]);
        assert_eq!(last, ColorWhen::Always);
        assert_eq!(when(&["eb", "--color", "pink"]), ColorWhen::Auto);
        assert_eq!(
            when(&["eb", "verify", "--", "--color=never"]),
            ColorWhen::Auto
        );
    }

    #[test]
    fn paint_wraps_and_strips_to_the_text() {
        let s = paint(FAIL, "FAILED");
        assert!(s.starts_with("\x1b[") && s.ends_with("\x1b[0m"), "{s:?}");
        assert_eq!(anstream::adapter::strip_str(&s).to_string(), "FAILED");
    }
}
