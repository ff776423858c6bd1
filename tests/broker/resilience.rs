//! Broker resilience: workers that lose the broker and reconnect, and `serve --broker` in front
//! of workers, with processes killed mid-run. Needs RabbitMQ like the rest of this binary.

use crate::common::broker::*;
use crate::common::{self, eventbench};
use std::path::Path;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_worker_reconnects_after_a_cut_and_loses_nothing() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "reconnect");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 200, 4);
    publish(&q, &input, "20ms");
    let proxy = Proxy::start(&url);
    let (log, report) = (dir.path().join("a.csv"), dir.path().join("a.json"));
    let mut a = proxied_worker(&proxy, &q, &log)
        .args(["--exit-when-idle", "2s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    wait_for_rows(&log, 30, &mut a);
    // The network is gone for a second: the first reconnect attempts fail.
    proxy.cut(true);
    std::thread::sleep(Duration::from_secs(1));
    proxy.up();
    let out = a.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "worker failed: {stderr}");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    let rows = log_rows(&log);
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["broker"]["reconnects"], 1);
    assert!(r["broker"]["redelivered"].as_u64().unwrap() > 0);
    // The report covers what ran, each event once: every delivery except those dropped
    // unstarted at the cut and the redeliveries of events that had finished here.
    let b = &r["broker"];
    let count = |k: &str| b[k].as_u64().unwrap();
    assert_eq!(r["events"].as_u64().unwrap(), rows.len() as u64);
    assert_eq!(r["duplicates"], 0);
    assert_eq!(rows.len(), 200);
    assert_eq!(
        rows.len() as u64,
        count("deliveries") - count("abandoned") - count("skipped_finished")
    );
    assert_eq!(count("deliveries"), 200 + count("repeated"));
}

/// A partition (the connection stays open and nothing gets through) is noticed by the AMQP
/// heartbeat, 10 s unless the URL names one: the worker fails over to its second URL, and the
/// broker drops the silent connection's consumers, so the worker can take its queues again.
/// With RabbitMQ's default 60 s this took one to two minutes; the 50 s below is a hang guard
/// that tells the two apart, not a measurement.
#[test]
fn a_partition_is_noticed_by_the_heartbeat_and_failed_over() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "partition");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 200, 4);
    publish(&q, &input, "20ms");
    let proxy = Proxy::start(&url);
    let (log, report) = (dir.path().join("a.csv"), dir.path().join("a.json"));
    let mut a = worker_at(&[&proxy.url(), &url], &q, &log, &report)
        .spawn()
        .unwrap();
    wait_for_rows(&log, 30, &mut a);
    proxy.freeze();
    let guard = Instant::now() + Duration::from_secs(50);
    while a.try_wait().unwrap().is_none() {
        if Instant::now() > guard {
            let _ = a.kill();
            panic!("the worker did not get past the partition within 50 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = a.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "worker failed: {stderr}");
    assert!(stderr.contains("heartbeat"), "{stderr}");
    assert_complete_and_in_order(&arrivals(&input), &log_rows(&log));
    let r = json(&report);
    assert_eq!(r["broker"]["reconnects"], 1, "{r}");
    assert_eq!(r["duplicates"], 0);
}

#[test]
fn a_broker_gone_past_the_reconnect_timeout_exits_3_and_acks_nothing_unprocessed() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "lost");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 200, 4);
    publish(&q, &input, "20ms");
    let proxy = Proxy::start(&url);
    let (log_a, log_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let mut a = proxied_worker(&proxy, &q, &log_a)
        .args(["--reconnect-timeout", "1s"])
        .spawn()
        .unwrap();
    wait_for_rows(&log_a, 30, &mut a);
    proxy.cut(true);
    let out = a.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit code after losing the broker"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could not reconnect within 1.000s"),
        "unclear error: {stderr}"
    );
    // Whatever A did not log must still be in the queues for B.
    eventbench()
        .arg("worker")
        .args(q.args())
        .args(["--exit-when-idle", "1s", "-q", "--log"])
        .arg(&log_b)
        .assert()
        .success();
    let mut rows = log_rows(&log_a);
    assert!(rows.len() < 200, "worker A finished before the cut");
    rows.extend(log_rows(&log_b));
    assert_complete_and_in_order(&arrivals(&input), &rows);
}

#[test]
fn serve_broker_answers_503_while_the_broker_is_away_and_202_once_it_is_back() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "relay503");
    let proxy = Proxy::start(&url);
    let serve = serve_broker(&proxy.url(), &q);
    let addr = serve.addr.clone();
    assert_eq!(post_event(&addr, 1, 1), Some(202));
    assert_eq!(post_event(&addr, 1, 1), Some(409), "a repeated id");
    proxy.cut(true);
    let refused = (2..200)
        .map(|e| post_event(&addr, 1, e))
        .find(|s| *s != Some(202));
    assert_eq!(refused, Some(Some(503)), "no 503 while the broker is away");
    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(30);
    while post_event(&addr, 1, 1000) != Some(202) {
        assert!(Instant::now() < deadline, "serve never got the broker back");
        std::thread::sleep(Duration::from_millis(100));
    }
    serve.kill();
    // What was confirmed is in the queue: event 1, those before the cut, and 1000.
    let ready = ready_messages(&url, &q.topo);
    assert!(ready >= 2, "{ready} messages queued");
}

#[test]
fn serve_broker_and_two_workers_lose_nothing_when_serve_and_a_worker_are_killed() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 4, "relay");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 600, 6);
    let events = arrivals(&input);
    let serve = serve_broker(&url, &q);
    let (log_a, log_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let report = dir.path().join("b.json");
    let worker = |log: &Path| {
        let mut c = common::broker::worker(&q, log);
        c.args(["--process-time", "20ms"]);
        c
    };
    let mut a = worker(&log_a).spawn().unwrap();
    // The client: one event at a time in arrival order, each retried until it is accepted,
    // whichever server is up (so an account's order is the file's order).
    let target = Arc::new(Mutex::new(serve.addr.clone()));
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sender = {
        let (target, accepted) = (Arc::clone(&target), Arc::clone(&accepted));
        std::thread::spawn(move || {
            for &(account, event) in &events {
                loop {
                    let addr = target.lock().unwrap().clone();
                    if let Some(202 | 409) = post_event(&addr, account, event) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                accepted.fetch_add(1, SeqCst);
            }
        })
    };
    let wait_accepted = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while accepted.load(SeqCst) < n {
            assert!(Instant::now() < deadline, "fewer than {n} events accepted");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_accepted(150);
    serve.kill(); // SIGKILL, with requests in flight
    let serve2 = serve_broker(&url, &q);
    *target.lock().unwrap() = serve2.addr.clone();
    wait_accepted(300);
    wait_for_rows(&log_a, 50, &mut a);
    // Registered second, just before A dies: the standby consumer of every queue. Started
    // earlier, its idle limit would run while A works, and a slow broker (one recovering its
    // queues after a restart) made that longer than the limit.
    let mut b = worker(&log_b)
        .args(["--exit-when-idle", "10s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    a.kill().unwrap();
    a.wait().unwrap();
    sender.join().unwrap();
    let status = b.wait().unwrap();
    assert!(status.success(), "worker B failed: {status}");
    serve2.kill();
    let mut rows = log_rows(&log_a);
    assert!(rows.len() < 600, "worker A finished before it was killed");
    rows.extend(log_rows(&log_b));
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    assert!(r["broker"]["redelivered"].as_u64().unwrap() > 0);
}
