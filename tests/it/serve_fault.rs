//! `serve --fault`: a slow account behind a real server fed by `send` at a steady rate, its
//! bystanders measured against a reference that knows when each event arrived; and the
//! faults and modes a server refuses.

use crate::common::{self, eventbench, Spawned, LISTENING};
use serde_json::Value;
use std::path::Path;

/// 6 accounts × 3 events, round robin, at 10 events/s: each account gets an event every
/// 600 ms and takes 100 ms for it, so without the fault every lane keeps up (2 lanes of 3
/// accounts: half busy) and every event ends 100 ms after it arrived. (At 20 ms a loaded
/// machine's hand-off hiccups reach the threshold of half an event, 10 ms.)
const ACCOUNTS: u64 = 6;
const PER_ACCOUNT: u64 = 3;
/// Account 1's events take 8 × 100 ms: 3 × 700 ms more in all.
const EXTRA_S: f64 = (PER_ACCOUNT as f64) * 0.700;

fn serve_with_fault(dir: &Path, name: &str, engine: &[&str]) -> Value {
    let events = dir.join("events.csv");
    let accounts: Vec<u64> = (0..ACCOUNTS * PER_ACCOUNT)
        .map(|i| i % ACCOUNTS + 1)
        .collect();
    common::write_events(&events, &accounts, None);
    let json = dir.join(format!("{name}.json"));
    let server = Spawned::start(
        common::command()
            .current_dir(dir)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--process-time",
                "100ms",
            ])
            .args(engine)
            .args(["--fault", "slow:1:8", "--json"])
            .arg(&json),
        LISTENING,
    );
    common::send_at_rate(dir, &server.addr, &events, 10);
    let finished = server.stop(libc::SIGINT);
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    assert!(
        finished.stdout.contains("1 slow account delayed"),
        "{}",
        finished.stdout
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["events"], ACCOUNTS * PER_ACCOUNT, "{r}");
    assert_eq!(r["ordering_violations"], 0, "{r}");
    assert_eq!(r["faults"][0], "slow:1:8", "{r}");
    assert_eq!(r["faulted_accounts"], 1, "{r}");
    assert_eq!(r["bystanders"], ACCOUNTS - 1, "{r}");
    r
}

fn max_delay(r: &Value) -> f64 {
    r["bystander_delay_s"]["max"].as_f64().unwrap()
}

/// Sharded over 2 lanes (durable queue): accounts 3 and 5 share account 1's lane, which
/// cannot keep up with it, and end about half its extra work later. One lane per account (in
/// memory): nothing waits behind account 1, and as events ran when they arrived none is
/// delayed (a reference from time 0 would have counted all 5 by 1.5 s or more: the arrivals
/// span 1.7 s).
#[test]
fn a_slow_account_delays_its_shard_mates_and_no_one_on_lanes_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sharded = serve_with_fault(
        dir.path(),
        "sharded",
        &[
            "-s",
            "sharded",
            "-w",
            "2",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    let delayed = sharded["bystanders_delayed"].as_u64().unwrap();
    assert!(delayed >= 2, "the 2 shard-mates: {sharded}");
    assert!(max_delay(&sharded) > EXTRA_S / 4.0, "{sharded}");
    assert!(sharded["blocked_s"].as_f64().unwrap() > 0.0, "{sharded}");

    let own = serve_with_fault(
        dir.path(),
        "per-account",
        &["--in-memory", "-s", "per-account"],
    );
    assert_eq!(own["bystanders_delayed"], 0, "{own}");
    assert!(max_delay(&own) < EXTRA_S / 20.0, "{own}");
    assert_eq!(own["blocked_s"], 0.0, "{own}");
}

fn refused(args: &[&str]) -> String {
    let out = eventbench().arg("serve").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "serve {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_server_refuses_failing_accounts_foreign_handlers_and_the_broker_front() {
    let base = ["--in-memory", "--listen", "127.0.0.1:0"];
    let fail = refused(&[&base[..], &["--fault", "fail:3"]].concat());
    assert!(fail.contains("takes slow: and stall: faults"), "{fail}");
    let exec = refused(
        &[
            &base[..],
            &["--fault", "slow:3:2", "--handler", "exec:true"],
        ]
        .concat(),
    );
    assert!(exec.contains("does not apply with --handler"), "{exec}");
    let broker = refused(&[
        "--broker",
        "amqp://127.0.0.1:9/%2f",
        "--queues",
        "2",
        "--in-memory",
        "--fault",
        "slow:3:2",
    ]);
    assert!(
        broker.contains("give --fault to `eventbench worker`"),
        "{broker}"
    );
}
