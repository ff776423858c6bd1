//! Found by trying every command as a new user would (QA pass): flags that were silently
//! ignored, output folders that failed late or with the wrong exit code.

use crate::common::eventbench;
use predicates::prelude::*;

#[test]
fn generate_into_a_missing_folder_is_bad_usage_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    eventbench()
        .current_dir(dir.path())
        .args(["generate", "--events", "10", "--output", "nope/events.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nope/events.csv: folder nope does not exist",
        ))
        // The seed is printed only once the file is going to be written.
        .stderr(predicate::str::contains("seed:").not());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn broker_flags_without_a_broker_are_refused_not_ignored() {
    let cases: [&[&str]; 4] = [
        &["run", "--clock", "virtual", "--queues", "3"],
        &["run", "--clock", "virtual", "--queue-prefix", "mine"],
        &[
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--queues",
            "3",
        ],
        &[
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--channels",
            "2",
        ],
    ];
    for args in cases {
        let dir = tempfile::tempdir().unwrap();
        eventbench()
            .current_dir(dir.path())
            .args(args)
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            // clap itself catches some combinations; either way the message names --broker.
            .stderr(predicate::str::contains("--broker"))
            .stdout(predicate::str::is_empty());
    }
}
