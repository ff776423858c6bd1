//! `--color`: escapes on a terminal (or with `always`) only, never in pipes, files or with
//! NO_COLOR under `auto`; clap's help and errors follow the same switch.

use crate::common::{eventbench, write_events, BIN};
use std::path::{Path, PathBuf};
use std::process::Command;

const ESC: char = '\x1b';
const GREEN_OK: &str = "\x1b[32mok\x1b[0m";
const RED_FAILED: &str = "\x1b[1m\x1b[31mFAILED\x1b[0m";

fn events(dir: &Path) -> PathBuf {
    let path = dir.join("events.csv");
    write_events(&path, &[1, 2, 1, 3, 2, 1], None);
    path
}

/// stdout and stderr of the binary with `args`, NO_COLOR as given (None: unset).
fn output(args: &[&str], no_color: Option<&str>) -> (i32, String, String) {
    let mut cmd = eventbench();
    cmd.args(args).env_remove("CLICOLOR_FORCE");
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
    let out = cmd.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn run_args<'a>(input: &'a str, color: &'a str) -> Vec<&'a str> {
    vec![
        "run", "-q", "--clock", "virtual", "--input", input, "--color", color,
    ]
}

#[test]
fn always_colours_the_verdict_even_into_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let (code, out, _) = output(&run_args(input.to_str().unwrap(), "always"), None);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("ordering     {GREEN_OK}: 6 of 6")),
        "{out:?}"
    );
    // Notes are dim.
    assert!(out.contains("\x1b[2m(max 3 in flight)\x1b[0m"), "{out:?}");
}

#[test]
fn never_piped_auto_and_no_color_carry_no_escape() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let input = input.to_str().unwrap();
    for (color, no_color) in [("never", None), ("auto", None), ("auto", Some("1"))] {
        let (code, out, err) = output(&run_args(input, color), no_color);
        assert_eq!(code, 0);
        assert!(out.contains("ordering     ok: 6 of 6"), "{out}");
        assert!(!out.contains(ESC) && !err.contains(ESC), "{color}: {out:?}");
    }
}

#[test]
fn a_failed_check_is_red() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    // Event 3 (account 1) before event 1: out of order.
    let log = dir.path().join("log.csv");
    std::fs::write(&log, "account_id,event_id\n1,3\n1,1\n2,2\n3,4\n2,5\n1,6\n").unwrap();
    let args = ["verify", "-q", "--events", input.to_str().unwrap()];
    let mut args = args.to_vec();
    args.extend(["--log", log.to_str().unwrap(), "--color", "always"]);
    let (code, out, err) = output(&args, None);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains(&format!("ordering     {RED_FAILED}: 0 lost")),
        "{out:?}"
    );
    assert!(
        out.contains("\x1b[1m\x1b[31m  violation: account 1"),
        "{out:?}"
    );
    assert!(err.contains("\x1b[1m\x1b[31merror:\x1b[0m"), "{err:?}");
}

#[test]
fn files_never_get_colour_and_the_sweep_table_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let out_dir = dir.path().join("cmp");
    let json = dir.path().join("run.json");
    let input = input.to_str().unwrap();
    let mut args = run_args(input, "always");
    args.extend(["--json", json.to_str().unwrap()]);
    assert_eq!(output(&args, None).0, 0);
    let args = [
        "compare",
        "-q",
        "--workers",
        "2",
        "--input",
        input,
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--color",
        "always",
    ];
    let (code, out, _) = output(&args, None);
    assert_eq!(code, 0);
    assert!(out.contains(GREEN_OK), "{out:?}");
    let mut files = vec![json];
    files.extend(
        std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(ESC), "{} has an escape", f.display());
    }
}

#[test]
fn clap_help_and_errors_follow_the_switch() {
    let (_, help, _) = output(&["run", "--help", "--color", "always"], None);
    assert!(help.contains(ESC), "{help:?}");
    let (_, help, _) = output(&["--color=never", "run", "--help"], None);
    assert!(
        !help.contains(ESC) && help.contains("--color <WHEN>"),
        "{help}"
    );
    // Documented variants would have switched every --help to clap's long layout (`send`
    // has no other documented value list).
    let (_, help, _) = output(&["send", "--help"], None);
    assert!(!help.contains("Possible values:"), "{help}");
    let (code, _, err) = output(&["--color", "always", "run", "--nope"], None);
    assert_eq!(code, 2);
    assert!(err.contains("\x1b[1m\x1b[31merror:"), "{err:?}");
    let (_, _, err) = output(&["run", "--nope"], None);
    assert!(!err.contains(ESC), "{err:?}");
    let (code, _, err) = output(&["--color", "pink", "run"], None);
    assert_eq!(code, 2);
    assert!(err.contains("pink"), "{err}");
}

/// `auto` on a real terminal: `script` gives the binary a pseudo-terminal where installed.
#[test]
fn auto_colours_a_terminal_unless_no_color() {
    let has_script = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: no `script` to make a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let line = format!("{BIN} run -q --clock virtual --input {}", input.display());
    let on_tty = |no_color: Option<&str>| {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .env("TERM", "xterm");
        match no_color {
            Some(v) => cmd.env("NO_COLOR", v),
            None => cmd.env_remove("NO_COLOR"),
        };
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    assert!(on_tty(None).contains(GREEN_OK), "{:?}", on_tty(None));
    assert!(
        on_tty(Some("")).contains(GREEN_OK),
        "an empty NO_COLOR does not count"
    );
    let plain = on_tty(Some("1"));
    assert!(
        plain.contains("ok: 6 of 6") && !plain.contains(ESC),
        "{plain:?}"
    );
}
