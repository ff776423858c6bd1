//! `--version`, `eventbench version --verbose` and the `build` object of the JSON documents:
//! they name the commit the binary was built from, as git sees this checkout.

use crate::common::{eventbench, write_events};
use std::process::Command;

/// `git` in this package's folder, or None outside a checkout.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit the test binary was built from, as cargo rebuilt it for this test run.
fn head() -> String {
    git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into())
}

fn stdout_of(args: &[&str]) -> String {
    let out = eventbench()
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dash_v_and_version_name_version_and_commit() {
    let short = stdout_of(&["-V"]);
    let long = stdout_of(&["--version"]);
    assert_eq!(short, long);
    let want = format!("eventbench {} (", env!("CARGO_PKG_VERSION"));
    assert!(short.starts_with(&want), "{short}");
    let head = head();
    if head == "unknown" {
        assert!(short.ends_with("(commit unknown)\n"), "{short}");
    } else {
        let clean = format!("({head})\n");
        let dirty = format!("({head}, dirty)\n");
        assert!(
            short.ends_with(&clean) || short.ends_with(&dirty),
            "{short}"
        );
    }
    // Subcommands answer -V too (propagated), and `version` prints the same line.
    assert!(stdout_of(&["run", "-V"]).contains(&format!("({head}")));
    assert_eq!(stdout_of(&["version"]), short);
}

#[test]
fn version_verbose_adds_rustc_and_profile() {
    let text = stdout_of(&["version", "--verbose"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[1], format!("commit:  {}", head()));
    // Dirty means the files that go into the binary differ from the commit (untracked ones
    // aside); cargo rebuilt the binary for this run, so the tree is as it was then.
    let status = [
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "src",
        "assets",
        "build.rs",
        "Cargo.toml",
        "Cargo.lock",
    ];
    let dirty = match git(&status) {
        Some(s) => (!s.is_empty()).to_string(),
        None => "unknown".into(),
    };
    assert_eq!(lines[2], format!("dirty:   {dirty}"), "{text}");
    assert!(lines[3].starts_with("rustc:   rustc 1."), "{text}");
    assert!(
        lines[4] == "profile: debug" || lines[4] == "profile: release",
        "{text}"
    );
}

#[test]
fn every_json_document_names_the_build() {
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.csv");
    write_events(&events, &[1, 2, 1, 3, 2, 1], None);
    let report = tmp.path().join("run.json");
    eventbench()
        .args(["run", "-q", "--input"])
        .arg(&events)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let out = tmp.path().join("cmp");
    eventbench()
        .args(["compare", "-q", "--workers", "2", "--input"])
        .arg(&events)
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .success();
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let run = read(&report);
    let doc = read(&out.join("compare.json"));
    let head = head();
    for build in [&run["build"], &doc["build"], &doc["runs"][0]["build"]] {
        assert_eq!(build["commit"], head.as_str(), "{build}");
        assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
        assert!(build["rustc"].as_str().unwrap().starts_with("rustc "));
        assert!(build["profile"].is_string() && !build["dirty"].is_string());
    }
    // The older fields stay as they were.
    assert_eq!(run["eventbench_version"], env!("CARGO_PKG_VERSION"));
}
