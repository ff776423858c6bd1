//! `serve --handler` and `worker --handler` as real processes: retries keep each account's
//! order, a stopped account's events are dead-lettered, and (through RabbitMQ) every delivery
//! is acknowledged only once it succeeded or sits in the dead-letter file.

use crate::common::broker::{ready_messages, Queues};
use crate::common::{self, eventbench, Spawned, LISTENING};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Appends `account,event` to `out.txt`; fails every try for account $FAIL_ACCOUNT and the
/// first try of event ids divisible by 5.
const SCRIPT: &str = r#"#!/bin/sh
dir=$(dirname "$0")
if [ "$1" = "$FAIL_ACCOUNT" ]; then exit 1; fi
if [ $(( $2 % 5 )) -eq 0 ] && [ ! -e "$dir/tried.$2" ]; then : > "$dir/tried.$2"; exit 1; fi
echo "$1,$2" >> "$dir/out.txt"
"#;

const BAD: u64 = 3;

fn setup(n: usize) -> (tempfile::TempDir, Vec<(u64, u64)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let accounts = common::accounts(n, 6, 21);
    common::write_events(&dir.path().join("events.csv"), &accounts, None);
    let script = dir.path().join("handler.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let handler = format!("exec:{} {{account_id}} {{event_id}}", script.display());
    ((dir), (1..).zip(accounts).collect(), handler)
}

/// Each account's events in arrival order (leaving out the failing account).
fn expected(events: &[(u64, u64)]) -> BTreeMap<u64, Vec<u64>> {
    let mut m: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(e, a) in events.iter().filter(|x| x.1 != BAD) {
        m.entry(a).or_default().push(e);
    }
    m
}

fn processed(dir: &Path) -> BTreeMap<u64, Vec<u64>> {
    let mut m: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for l in std::fs::read_to_string(dir.join("out.txt"))
        .unwrap()
        .lines()
    {
        let (a, e) = l.split_once(',').unwrap();
        m.entry(a.parse().unwrap())
            .or_default()
            .push(e.parse().unwrap());
    }
    m
}

/// The event ids of the dead-letter file, checking its header.
fn dead_ids(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("event_id,account_id,duration_us,error"));
    lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

fn bad_ids(events: &[(u64, u64)]) -> Vec<u64> {
    events.iter().filter(|x| x.1 == BAD).map(|x| x.0).collect()
}

#[test]
fn serve_with_a_command_keeps_order_and_dead_letters_a_stopped_account() {
    let (dir, events, handler) = setup(60);
    let mut cmd = common::command();
    cmd.current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "4",
            "--process-time",
            "1ms",
        ])
        .args([
            "--handler",
            &handler,
            "--retries",
            "1",
            "--retry-backoff",
            "1ms",
        ])
        .args([
            "--on-failure",
            "stop-account",
            "--dead-letter",
            "dead.csv",
            "--json",
            "r.json",
        ])
        .env("FAIL_ACCOUNT", BAD.to_string());
    let serve = Spawned::start(&mut cmd, LISTENING);
    eventbench()
        .current_dir(dir.path())
        .args([
            "send",
            "--quiet",
            "--url",
            &format!("http://{}/api", serve.addr),
            "--input",
            "events.csv",
        ])
        .assert()
        .success();
    assert_eq!(
        serve.stop(libc::SIGTERM).status.code(),
        Some(1),
        "given-up events exit 1"
    );
    assert_eq!(processed(dir.path()), expected(&events));
    assert_eq!(dead_ids(&dir.path().join("dead.csv")), bad_ids(&events));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["given_up"], 1);
    assert_eq!(r["not_attempted"], bad_ids(&events).len() - 1);
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["bound_basis"], "measured");
}

#[test]
fn worker_acks_only_what_succeeded_or_was_dead_lettered() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let (dir, events, handler) = setup(60);
    let q = Queues::new(&url, 3, "handlers");
    eventbench()
        .current_dir(dir.path())
        .arg("publish")
        .args(q.args())
        .args(["--input", "events.csv"])
        .assert()
        .success();
    let out = eventbench()
        .current_dir(dir.path())
        .arg("worker")
        .args(q.args())
        .args([
            "--exit-when-idle",
            "300ms",
            "--json",
            "r.json",
            "--log",
            "log.csv",
        ])
        .args([
            "--handler",
            &handler,
            "--retries",
            "2",
            "--retry-backoff",
            "1ms",
        ])
        .args(["--dead-letter", "dead.csv"])
        .env("FAIL_ACCOUNT", BAD.to_string())
        .assert()
        .get_output()
        .clone();
    let left = ready_messages(&url, &q.topo);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(left, 0, "every delivery was acknowledged");
    assert_eq!(processed(dir.path()), expected(&events));
    assert_eq!(dead_ids(&dir.path().join("dead.csv")), bad_ids(&events));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["broker"]["acked"], 60);
    assert_eq!(r["given_up"], bad_ids(&events).len());
    let log = common::read_log(&dir.path().join("log.csv"));
    assert_eq!(
        log.len(),
        60,
        "given-up events ran (and failed), so they are logged"
    );
}
