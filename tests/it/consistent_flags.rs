//! Flags that mean the same on every command (issue 23 item 8): `--json FILE` on compare,
//! send and publish; `--listen HOST:PORT`; an output path that cannot be written is exit 2
//! before any work on every command; a port in use says so and how to get a free one.

use crate::common::{self, eventbench, Finished, Spawned, LISTENING};
use serde_json::Value;
use std::path::Path;

fn events(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("events.csv");
    common::write_events(&input, &common::accounts(40, 4, 1), None);
    input
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn compare_writes_its_document_to_json_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let (out, file) = (dir.path().join("out"), dir.path().join("c.json"));
    eventbench()
        .args([
            "compare",
            "-q",
            "--workers",
            "2",
            "--strategies",
            "sharded",
            "--input",
        ])
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .arg("--json")
        .arg(&file)
        .assert()
        .success();
    assert_eq!(json(&file), json(&out.join("compare.json")));
}

#[test]
fn serve_listens_on_a_host_name_and_send_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    // Refused before: "invalid socket address syntax".
    let server = Spawned::start(
        common::command().args([
            "serve",
            "--in-memory",
            "--listen",
            "localhost:0",
            "--process-time",
            "1ms",
        ]),
        LISTENING,
    );
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
    let file = dir.path().join("send.json");
    eventbench()
        .args(["send", "-q", "--url"])
        .arg(format!("http://{}/api", server.addr))
        .arg("--input")
        .arg(&input)
        .arg("--json")
        .arg(&file)
        .assert()
        .success();
    let r = json(&file);
    assert_eq!(
        (r["events"].as_u64(), r["accepted"].as_u64()),
        (Some(40), Some(40))
    );
    let Finished { status, .. } = server.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_port_in_use_says_so_and_suggests_port_0() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = eventbench()
        .args(["serve", "--in-memory", "--listen", &addr])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(stderr.contains("--listen 127.0.0.1:0"), "{stderr}");
}

/// /proc takes no new file, not even from root (file modes would not stop a root test run).
const UNWRITABLE: &str = "/proc/eventbench-cannot-write.json";

#[test]
fn an_unwritable_output_is_exit_2_before_any_work_on_every_command() {
    if !Path::new("/proc/self").is_dir() {
        println!("skipped: no /proc here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let input = input.to_str().unwrap();
    let blocked_dir = "/proc/eventbench-cannot-create/out";
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", "--input", input, "--json", UNWRITABLE],
        vec!["run", "--input", input, "--log", UNWRITABLE],
        // Was exit 3, after the sweep had run.
        vec![
            "compare",
            "--input",
            input,
            "--workers",
            "2",
            "--output-dir",
            blocked_dir,
        ],
        vec![
            "compare",
            "--input",
            input,
            "--workers",
            "2",
            "--json",
            UNWRITABLE,
        ],
        vec!["generate", "--events", "10", "--output", UNWRITABLE],
        // No server listens on port 9: had the check come after the work, this were exit 3.
        vec![
            "send",
            "--input",
            input,
            "--url",
            "http://127.0.0.1:9/api",
            "--json",
            UNWRITABLE,
        ],
        vec![
            "send",
            "--input",
            input,
            "--url",
            "http://127.0.0.1:9/api",
            "--sent",
            UNWRITABLE,
        ],
        vec![
            "verify", "--events", input, "--log", input, "--json", UNWRITABLE,
        ],
        vec![
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--json",
            UNWRITABLE,
        ],
        vec![
            "publish",
            "--broker",
            "amqp://127.0.0.1:9/%2f",
            "--queues",
            "2",
            "--input",
            input,
            "--json",
            UNWRITABLE,
        ],
    ];
    for args in cases {
        let out = eventbench().current_dir(dir.path()).args(&args).assert();
        let o = out.get_output();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("/proc/eventbench-cannot"),
            "{args:?}: {stderr}"
        );
    }
    // The compare refused before it ran left no dated folder behind either.
    assert!(!dir.path().join("results").exists());
}
