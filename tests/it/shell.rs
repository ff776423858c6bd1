//! `eventbench completions` and `eventbench man`: generated from the clap definitions, they
//! must be scripts the shells accept and pages groff renders, naming every subcommand.

use crate::common::eventbench;
use std::io::Write;
use std::process::{Command, Stdio};

const SUBCOMMANDS: [&str; 12] = [
    "generate",
    "run",
    "compare",
    "serve",
    "send",
    "publish",
    "worker",
    "report",
    "verify",
    "completions",
    "man",
    "version",
];

fn stdout_of(args: &[&str]) -> String {
    let out = eventbench()
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `tool args` with `input` on stdin; returns (success, stderr).
fn feed(tool: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.len() > 500, "{shell}: {} bytes", script.len());
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completions miss `{sub}`");
        }
        assert!(script.contains("--process-time"), "{shell}: no run flags");
    }
}

#[test]
fn the_bash_completion_parses() {
    let script = stdout_of(&["completions", "bash"]);
    let (ok, err) = feed("bash", &["-n"], &script);
    assert!(ok, "bash -n: {err}");
    // Where the other shells are installed, they check their scripts too.
    for (shell, args) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        if installed(shell) {
            let (ok, err) = feed(shell, args, &stdout_of(&["completions", shell]));
            assert!(ok, "{shell}: {err}");
        }
    }
}

#[test]
fn an_unknown_shell_is_bad_usage() {
    eventbench().args(["completions", "tcsh"]).assert().code(2);
}

/// The page renders without a warning where groff (or man) is installed; otherwise at least
/// its header names it.
fn assert_renders(page: &str, title: &str) {
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "not roff: {}",
        &page[..60.min(page.len())]
    );
    assert!(page.contains(&format!(".TH {title} 1 ")), "no .TH {title}");
    if installed("groff") {
        let (ok, err) = feed("groff", &["-k", "-man", "-Tutf8", "-ww", "-z"], page);
        assert!(ok && err.is_empty(), "groff on {title}: {err}");
    } else if installed("man") {
        let (ok, err) = feed("man", &["-l", "-"], page);
        assert!(ok, "man -l on {title}: {err}");
    }
}

#[test]
fn the_top_page_lists_the_subcommands_and_renders() {
    let page = stdout_of(&["man"]);
    assert_renders(&page, "eventbench");
    assert!(page.contains(".SH SUBCOMMANDS"));
    for sub in SUBCOMMANDS {
        assert!(page.contains(&format!("eventbench\\-{sub}(1)")), "no {sub}");
    }
    // The examples keep their lines (no fill), with flags as ASCII minus signs.
    assert!(page.contains(".SH EXAMPLES\n.nf\n"));
    assert!(page.contains("eventbench run \\-\\-input events.csv"));
}

#[test]
fn each_subcommand_has_its_page() {
    for sub in SUBCOMMANDS {
        let page = stdout_of(&["man", sub]);
        assert_renders(&page, &format!("eventbench-{sub}"));
    }
    let run = stdout_of(&["man", "run"]);
    assert!(
        run.contains("\\-\\-process\\-time"),
        "run's page lacks its flags"
    );
    eventbench()
        .args(["man", "nope"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no subcommand `nope`"));
}

#[test]
fn man_dir_writes_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    eventbench().args(["man", "--dir", path]).assert().success();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = SUBCOMMANDS
        .iter()
        .map(|s| format!("eventbench-{s}.1"))
        .collect();
    want.push("eventbench.1".into());
    want.sort();
    assert_eq!(names, want);
    let missing = dir.path().join("nowhere");
    eventbench()
        .args(["man", "--dir", missing.to_str().unwrap()])
        .assert()
        .code(2);
}
