//! `eventbench generate` from the outside: determinism, stdout output, and bad flags that must
//! fail with exit code 2 and leave no file behind.

use crate::common::eventbench;
use predicates::prelude::*;
use std::path::Path;

fn generate(dir: &Path, file: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(file);
    eventbench()
        .current_dir(dir)
        .args(["generate", "--events", "2000", "--output", file])
        .args(extra)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "wrote {file}: 2000 events"
        )));
    std::fs::read(out).unwrap()
}

#[test]
fn same_seed_gives_an_identical_file() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--seed",
        "99",
        "--distribution",
        "zipf:1.2",
        "--duration",
        "exp:2ms",
    ];
    let a = generate(dir.path(), "a.csv", &args);
    let b = generate(dir.path(), "b.csv", &args);
    assert_eq!(a, b);
    assert!(a.starts_with(b"event_id,account_id,duration_us\n1,"));
    assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 2001);
    let c = generate(
        dir.path(),
        "c.csv",
        &["--seed", "100", "--distribution", "zipf:1.2"],
    );
    assert_ne!(a, c);
}

#[test]
fn without_a_seed_the_chosen_seed_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    eventbench()
        .current_dir(dir.path())
        .args(["generate", "--events", "10"])
        .assert()
        .success()
        .stderr(predicate::str::is_match(r"(?m)^seed: \d+$").unwrap());
    assert!(
        dir.path().join("events.csv").exists(),
        "events.csv is the default output"
    );
}

#[test]
fn dash_writes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    eventbench()
        .current_dir(dir.path())
        .args([
            "generate",
            "--events",
            "3",
            "--max-account-id",
            "1",
            "--seed",
            "1",
            "-o",
            "-",
        ])
        .assert()
        .success()
        .stdout("event_id,account_id\n1,1\n2,1\n3,1\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_values_exit_2_and_create_no_file() {
    let cases: [(&[&str], &str); 5] = [
        (&["--distribution", "zipf:abc"], "expected uniform, zipf:S"),
        (&["--distribution", "hot:2"], "between 0 and 1"),
        (
            &["--max-account-id", "0"],
            "--max-account-id must be at least 1",
        ),
        (
            &["--duration", "uniform:5ms..1ms"],
            "lower bound is above the upper bound",
        ),
        (&["--events=-5"], "invalid value '-5' for '--events"),
    ];
    for (args, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        eventbench()
            .current_dir(dir.path())
            .args(["generate", "--output", "out.csv"])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} left a file behind"
        );
    }
}

#[test]
fn help_shows_examples() {
    eventbench()
        .args(["generate", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:").and(predicate::str::contains("zipf:1.2")));
}
