//! Broker tests: need a RabbitMQ at EVENTBENCH_AMQP_URL (default amqp://127.0.0.1:5672/%2f).
//! Without one each test prints "skipped: no RabbitMQ at …" and passes, except under CI=true,
//! where a missing broker is a failure (CI installs one with .ci/rabbitmq.sh).

mod common;

use common::eventbench;
use eventbench::broker::amqp::{self, Topology};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queues with a name unique to this test; deleted when dropped, even after a failed assert.
struct Queues {
    url: String,
    topo: Topology,
}

impl Queues {
    fn new(url: &str, n: u32, test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let prefix = format!("ebtest-{test}-{}-{nanos}", std::process::id());
        Queues {
            url: url.to_string(),
            topo: Topology::new(url, n, &prefix),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--broker".into(),
            self.url.clone(),
            "--queues".into(),
            self.topo.queues.to_string(),
            "--queue-prefix".into(),
            self.topo.prefix.clone(),
        ]
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        if let Err(e) = rt.block_on(amqp::delete(&self.url, &self.topo)) {
            eprintln!("could not delete test queues {}.*: {e:#}", self.topo.prefix);
        }
    }
}

/// `events` events over `accounts` accounts from a fixed LCG, so every run sees the same file.
fn write_events(dir: &Path, events: u64, accounts: u64) -> PathBuf {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut csv = String::from("event_id,account_id\n");
    for id in 1..=events {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        csv.push_str(&format!("{id},{}\n", 1 + (x >> 33) % accounts));
    }
    let path = dir.join("events.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// `(account, event)` in arrival order.
fn arrivals(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (e, a) = l.split_once(',').unwrap();
            (a.parse().unwrap(), e.parse().unwrap())
        })
        .collect()
}

/// Log rows `(account, event, worker, start, end)`, in file order.
fn log_rows(path: &Path) -> Vec<[u64; 5]> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    if let Some(h) = lines.next() {
        assert_eq!(h, "account_id,event_id,worker,start_us,end_us");
    }
    lines
        .map(|l| {
            let v: Vec<u64> = l.split(',').map(|f| f.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3], v[4]]
        })
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// For each account, the events ordered by their LAST completion in `rows` (which must be in
/// completion order per account) must be exactly the account's events in arrival order.
fn assert_complete_and_in_order(input: &[(u64, u64)], rows: &[[u64; 5]]) {
    let mut last: HashMap<u64, usize> = HashMap::new();
    for (pos, r) in rows.iter().enumerate() {
        last.insert(r[1], pos);
    }
    let mut expected: HashMap<u64, Vec<u64>> = HashMap::new();
    for &(a, e) in input {
        expected.entry(a).or_default().push(e);
    }
    for (account, events) in expected {
        for e in &events {
            assert!(
                last.contains_key(e),
                "event {e} of account {account} never completed"
            );
        }
        let mut by_last = events.clone();
        by_last.sort_by_key(|e| last[e]);
        assert_eq!(by_last, events, "account {account} completed out of order");
    }
}

#[test]
fn run_through_the_broker_processes_every_event_once_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 5, "run");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 500, 60);
    let (log, report) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    eventbench()
        .arg("run")
        .args(q.args())
        .args(["--process-time", "10ms", "-q", "--input"])
        .arg(&input)
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let r = json(&report);
    assert_eq!(r["events"], 500);
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["duplicates"], 0);
    assert_eq!(r["unprocessed"], 0);
    let mut rows = log_rows(&log);
    assert_eq!(rows.len(), 500, "every event exactly once");
    rows.sort_by_key(|r| r[4]);
    assert_complete_and_in_order(&arrivals(&input), &rows);
}

fn wait_for_rows(log: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while log_rows(log).len() < n {
        assert!(child.try_wait().unwrap().is_none(), "worker exited early");
        assert!(
            Instant::now() < deadline,
            "worker logged fewer than {n} rows"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Publishes `input` to the test's queues, each message carrying `process_time`.
fn publish(q: &Queues, input: &Path, process_time: &str) {
    eventbench()
        .arg("publish")
        .args(q.args())
        .args(["--process-time", process_time, "--input"])
        .arg(input)
        .assert()
        .success();
}

#[test]
fn a_killed_worker_loses_nothing_and_the_standby_finishes_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "kill");
    let dir = tempfile::tempdir().unwrap();
    // 400 events over 4 accounts at 20 ms: about 2 s of chains, long enough to kill mid-run.
    let input = write_events(dir.path(), 400, 4);
    publish(&q, &input, "20ms");
    let (log_a, log_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let report = dir.path().join("b.json");
    let worker = |log: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_eventbench"));
        c.arg("worker")
            .args(q.args())
            .arg("-q")
            .arg("--log")
            .arg(log);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let mut a = worker(&log_a).spawn().unwrap();
    wait_for_rows(&log_a, 20, &mut a);
    // Registered second, so B is the standby consumer of every queue.
    let mut b = worker(&log_b)
        .args(["--exit-when-idle", "3s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    wait_for_rows(&log_a, 80, &mut a);
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let killed_at = log_rows(&log_a).len();
    assert!(killed_at < 400, "worker A finished before it was killed");
    let status = b.wait().unwrap();
    assert!(status.success(), "worker B failed: {status}");
    // Every account lives in one queue, and B consumed only after A died: A's rows come first.
    let mut rows = log_rows(&log_a);
    rows.extend(log_rows(&log_b));
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    assert!(r["broker"]["redelivered"].as_u64().unwrap() > 0);
    assert_eq!(r["broker"]["acked"], r["broker"]["deliveries"]);
}

#[test]
fn one_at_a_time_runs_one_message_per_queue() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "single");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 60, 9);
    publish(&q, &input, "5ms");
    let (log, report) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    eventbench()
        .arg("worker")
        .args(q.args())
        .args(["--one-at-a-time", "--exit-when-idle", "1s", "-q", "--log"])
        .arg(&log)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let r = json(&report);
    assert_eq!(r["events"], 60);
    assert_eq!(r["mode"], "one-at-a-time");
    assert_eq!(r["ordering_violations"], 0);
    let rows = log_rows(&log);
    assert_eq!(rows.len(), 60);
    for queue in 0..3 {
        let mut spans: Vec<(u64, u64)> = rows
            .iter()
            .filter(|r| r[0] % 3 == queue)
            .map(|r| (r[3], r[4]))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "queue {queue}: two messages at once: {w:?}"
            );
        }
    }
}

#[test]
fn an_unreachable_broker_is_a_clear_error_with_exit_code_3() {
    // Needs no broker: port 1 refuses connections.
    for cmd in ["worker", "publish"] {
        eventbench()
            .args([
                cmd,
                "--broker",
                "amqp://127.0.0.1:1/%2f",
                "--queues",
                "2",
                "-q",
            ])
            .assert()
            .code(3)
            .stderr(predicates::str::contains(
                "cannot connect to RabbitMQ at amqp://127.0.0.1:1",
            ));
    }
}

/// A TCP forwarder to the broker that can cut every connection at once and refuse new ones
/// (a lost network, or a broker that is down).
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
    down: Arc<AtomicBool>,
}

impl Proxy {
    fn start(url: &str) -> Self {
        let uri: lapin::uri::AMQPUri = url.parse().unwrap();
        let target = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let (kept, refusing) = (Arc::clone(&conns), Arc::clone(&down));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if refusing.load(SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    return;
                };
                let mut k = kept.lock().unwrap();
                k.push(client.try_clone().unwrap());
                k.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, conns, down }
    }

    fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }

    /// Cuts every open connection; with `stay_down`, new ones are refused until [`Proxy::up`].
    fn cut(&self, stay_down: bool) {
        self.down.store(stay_down, SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn up(&self) {
        self.down.store(false, SeqCst);
    }
}

/// A worker on the proxy's address (the test's queues), logging to `log`.
fn proxied_worker(proxy: &Proxy, q: &Queues, log: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_eventbench"));
    c.args(["worker", "--broker", &proxy.url(), "-q"])
        .args(["--queues", &q.topo.queues.to_string()])
        .args(["--queue-prefix", &q.topo.prefix, "--log"])
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

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
    // The report covers what ran: every event at least once, re-runs only of events that were
    // in flight at the cut (at most one per account).
    assert_eq!(r["events"].as_u64().unwrap(), rows.len() as u64);
    assert!(rows.len() <= 200 + 4, "{} rows", rows.len());
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
