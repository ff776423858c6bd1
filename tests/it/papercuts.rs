//! What a new user meets first (issue 17): pipes between commands, error messages that say
//! each cause once, hand-edited CSVs, malformed broker URLs and empty workloads.

use crate::common::{self, eventbench};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

fn stderr_of(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn generate_pipes_into_run_through_stdin() {
    let generated = eventbench()
        .args([
            "generate", "--events", "300", "--seed", "3", "--output", "-",
        ])
        .assert()
        .success();
    let csv = generated.get_output().stdout.clone();
    let out = eventbench()
        .args([
            "run", "--input", "-", "--clock", "virtual", "--format", "json",
        ])
        .write_stdin(csv)
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["events"], 300);
    assert_eq!(report["ordering_violations"], 0);
    assert_eq!(report["input"], "<stdin>");
}

#[test]
fn every_input_flag_reads_stdin_for_dash() {
    // `compare` and `send` load the same way as `run`; a bad row proves stdin was parsed.
    for cmd in [
        vec!["compare", "--input", "-", "--workers", "2"],
        vec!["send", "--url", "http://127.0.0.1:9/api", "--input", "-"],
        vec![
            "publish",
            "--broker",
            "amqp://127.0.0.1:9/%2f",
            "--queues",
            "1",
            "--input",
            "-",
        ],
    ] {
        eventbench()
            .args(&cmd)
            .write_stdin("event_id,account_id\n1,x\n")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "<stdin>:2: account_id \"x\" is not an unsigned integer",
            ));
    }
}

#[test]
fn stdin_errors_name_the_line() {
    eventbench()
        .args(["run", "--input", "-", "--clock", "virtual"])
        .write_stdin("event_id,account_id\n1,2\n2\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<stdin>:3: expected 2 fields"));
}

#[test]
fn a_missing_file_says_its_cause_once() {
    let dir = TempDir::new().unwrap();
    let out = eventbench()
        .current_dir(dir.path())
        .args(["run", "--input", "nonexist.csv"])
        .assert()
        .code(2);
    let err = stderr_of(&out);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.starts_with("error: nonexist.csv: "), "{err}");
}

#[test]
fn a_refused_broker_connection_says_its_cause_once() {
    // Port 9 (discard) is closed on loopback: the connection is refused at once.
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("e.csv");
    common::write_events(&input, &[1, 2], None);
    let out = eventbench()
        .args([
            "publish",
            "--broker",
            "amqp://127.0.0.1:9/%2f",
            "--queues",
            "1",
        ])
        .arg("--input")
        .arg(&input)
        .assert()
        .code(3);
    let err = stderr_of(&out);
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}

#[test]
fn spaces_around_csv_values_are_trimmed() {
    let out = eventbench()
        .args([
            "run", "--input", "-", "--clock", "virtual", "--format", "json",
        ])
        .write_stdin("event_id, account_id ,duration_us\n1, 6,10\n 2 ,6 , 20 \n3,\t7,5\n")
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["events"], 3);
    assert_eq!(report["accounts"], 2);
    assert_eq!(report["longest_chain"], 2);
    assert_eq!(report["total_work_s"], 35e-6);
}

#[test]
fn values_with_inner_spaces_are_still_rejected() {
    eventbench()
        .args(["run", "--input", "-", "--clock", "virtual"])
        .write_stdin("event_id,account_id\n1,6 7\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "<stdin>:2: account_id \"6 7\" is not an unsigned integer",
        ));
}

/// Every command with `--broker` refuses a malformed URL before connecting, naming the flag and
/// the problem. The authority is read as written: lapin alone would take an empty port for 5672
/// (where the shared test broker listens) and a missing host for localhost. The timeout stops a
/// `serve` or `worker` that wrongly started.
#[test]
fn malformed_broker_urls_are_bad_usage_before_connecting() {
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("e.csv");
    common::write_events(&input, &[1], None);
    let input = input.to_str().unwrap();
    let out_path = dir.path().join("out.json");
    let output = out_path.to_str().unwrap();
    for cmd in [
        vec!["run", "--queues", "1", "--input", input, "--json", output],
        vec![
            "serve",
            "--queues",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--json",
            output,
        ],
        vec!["publish", "--queues", "1", "--input", input],
        vec!["worker", "--queues", "1", "--log", output],
        vec!["compare", "--input", input, "--output-dir", output],
    ] {
        for (bad, says) in [
            ("notaurl", "is not a RabbitMQ URL"),
            ("http://127.0.0.1:5672/", "is not a RabbitMQ URL"),
            (
                "amqp://u:secret@h:notaport/%2f",
                "port 'notaport' is not a number",
            ),
            (
                "amqp://u:secret@127.0.0.1:/%2f",
                "the port after ':' is empty",
            ),
            ("amqps://127.0.0.1:0/%2f", "port 0 is out of range"),
            ("amqp:///%2f", "the host is empty"),
            ("amqp:/127.0.0.1/%2f", "no '//' before the host"),
        ] {
            let out = eventbench()
                .args(&cmd)
                .args(["--broker", bad])
                .timeout(std::time::Duration::from_secs(30))
                .assert()
                .code(2);
            let err = stderr_of(&out);
            let ctx = format!("{cmd:?} {bad}: {err}");
            assert!(err.contains("--broker") && err.contains(says), "{ctx}");
            assert!(
                err.contains("amqp://guest:guest@127.0.0.1:5672/%2f"),
                "{ctx}"
            );
            assert!(!err.contains("cannot connect"), "{ctx}");
            assert!(!err.contains("secret"), "the password is shown: {ctx}");
            assert!(!out_path.exists(), "output written: {ctx}");
        }
    }
}

#[test]
fn an_empty_workload_says_there_is_nothing_to_process() {
    for (format, clock) in [("table", "virtual"), ("json", "virtual"), ("json", "real")] {
        let out = eventbench()
            .args(["run", "--input", "-", "--format", format, "--clock", clock])
            .write_stdin("event_id,account_id\n")
            .assert()
            .success()
            .stderr(predicate::str::contains("nothing to process"));
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(!stdout.contains("1 workers"), "{stdout}");
        if format == "json" {
            let report: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(report["events"], 0);
            assert_eq!(report["workers"], 0);
            assert_eq!(report["ordering_violations"], 0);
        } else {
            assert!(stdout.contains("nothing to process"), "{stdout}");
        }
    }
}
