//! `worker --fault`: one slow account through RabbitMQ, the original one-message-at-a-time
//! design against our engine, and the faults a live run refuses.

use crate::common::broker::*;
use crate::common::{self, eventbench};

/// Account 1 slowed 6× (10 events of 20 ms → 120 ms): its queue-mates wait ~1 s in the
/// original design; with one lane per account (our engine, `auto`) no one waits behind it.
#[test]
fn a_slow_account_delays_its_queue_mates_only_in_the_original_design() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 120, 12);
    let slow_events = arrivals(&input).iter().filter(|(a, _)| *a == 1).count() as f64;
    let extra = slow_events * 5.0 * 0.020;
    let run = |design: &[&str], name: &str| {
        let q = Queues::new(&url, 4, name);
        publish(&q, &input, "20ms");
        let report = dir.path().join(format!("{name}.json"));
        eventbench()
            .arg("worker")
            .args(q.args())
            .args(design)
            .args([
                "--exit-when-idle",
                "1s",
                "-q",
                "--fault",
                "slow:1:6",
                "--json",
            ])
            .arg(&report)
            .assert()
            .success();
        json(&report)
    };
    let original = run(&["--one-at-a-time"], "fault-original");
    assert_eq!(original["faulted_accounts"], 1);
    assert_eq!(original["bystanders"], 11);
    assert_eq!(original["faults"][0], "slow:1:6");
    let max = |r: &serde_json::Value| r["bystander_delay_s"]["max"].as_f64().unwrap();
    // Accounts 5 and 9 share queue 1 with account 1 and wait its extra time.
    assert!(
        original["bystanders_delayed"].as_u64().unwrap() >= 2,
        "{original}"
    );
    assert!(max(&original) > extra * 0.8, "{original}");
    let ours = run(&["-s", "optimal", "-w", "auto"], "fault-ours");
    assert_eq!(ours["ordering_violations"], 0);
    assert!(max(&ours) < extra / 2.0, "{ours}");
}

#[test]
fn a_worker_refuses_a_failing_account_before_it_connects() {
    let out = eventbench()
        .args([
            "worker",
            "--broker",
            "amqp://127.0.0.1:9/%2f",
            "--queues",
            "2",
        ])
        .args(["--fault", "fail:3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("takes slow: and stall: faults"), "{err}");
}
