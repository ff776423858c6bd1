//! Helpers of the broker tests: unique queues, workload files, the processed logs and their
//! independent check, a TCP proxy that cuts the broker away, HTTP posts to `serve`, and the
//! processes (`serve --broker`, workers, dashboards) started on a test's queues.

use super::{command, eventbench, Spawned, DASHBOARD, LISTENING};
use eventbench::internals::amqp::{self, Topology};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queues with a name unique to this test; deleted when dropped, even after a failed assert.
pub struct Queues {
    pub url: String,
    pub topo: Topology,
}

impl Queues {
    pub fn new(url: &str, n: u32, test: &str) -> Self {
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

    pub fn args(&self) -> Vec<String> {
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

/// Messages ready (published, not delivered) in `topo`'s queues at `url`.
pub fn ready_messages(url: &str, topo: &Topology) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let conn = amqp::connect(url).await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        amqp::ready_messages(&ch, topo).await.unwrap()
    })
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
pub fn write_events(dir: &Path, events: u64, accounts: u64) -> PathBuf {
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
pub fn arrivals(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (e, a) = l.split_once(',').unwrap();
            (a.parse().unwrap(), e.parse().unwrap())
        })
        .collect()
}

/// Log rows `(account, event, worker, start, end)`, in file order. The log may be one a
/// running process is writing: a last line without its newline yet is a row being written,
/// not a row, and is left out (read it again later).
pub fn log_rows(path: &Path) -> Vec<[u64; 5]> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or(0, |at| at + 1);
    let mut lines = text[..complete].lines();
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

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// For each account, the events ordered by their LAST completion in `rows` (which must be in
/// completion order per account) must be exactly the account's events in arrival order.
pub fn assert_complete_and_in_order(input: &[(u64, u64)], rows: &[[u64; 5]]) {
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

pub fn wait_for_rows(log: &Path, n: usize, child: &mut Child) {
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
pub fn publish(q: &Queues, input: &Path, process_time: &str) {
    eventbench()
        .arg("publish")
        .args(q.args())
        .args(["--process-time", process_time, "--input"])
        .arg(input)
        .assert()
        .success();
}

/// A TCP forwarder to the broker that can cut every connection at once and refuse new ones
/// (a lost network, or a broker that is down).
pub struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
    down: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(url: &str) -> Self {
        Self::with_cut(url, None)
    }

    /// A proxy whose first connection is cut after the broker sent `frames` AMQP frames (the
    /// connection's handshake is three: start, tune, open-ok), and that refuses every later
    /// one: a node lost at a chosen step of a client's setup.
    pub fn cutting_after(url: &str, frames: usize) -> Self {
        Self::with_cut(url, Some(frames))
    }

    fn with_cut(url: &str, mut cut_after: Option<usize>) -> Self {
        let uri: lapin::uri::AMQPUri = url.parse().unwrap();
        let target = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let frozen = Arc::new(AtomicBool::new(false));
        let (kept, refusing) = (Arc::clone(&conns), Arc::clone(&down));
        let silent = Arc::clone(&frozen);
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
                if let Some(frames) = cut_after.take() {
                    refusing.store(true, SeqCst);
                    std::thread::spawn(move || relay_frames(server, client, frames));
                    continue;
                }
                let mut k = kept.lock().unwrap();
                k.push(client.try_clone().unwrap());
                k.push(server.try_clone().unwrap());
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let silent = Arc::clone(&silent);
                    std::thread::spawn(move || relay(from, to, &silent));
                }
            }
        });
        Proxy {
            port,
            conns,
            down,
            frozen,
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }

    /// Cuts every open connection; with `stay_down`, new ones are refused until [`Proxy::up`].
    pub fn cut(&self, stay_down: bool) {
        self.down.store(stay_down, SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn up(&self) {
        self.down.store(false, SeqCst);
    }

    /// From now on every byte either way is dropped while the connections stay open: a network
    /// partition, which neither side hears about until its heartbeats go unanswered.
    pub fn freeze(&self) {
        self.frozen.store(true, SeqCst);
    }
}

/// Copies `from` to `to` until either closes; drops what it reads once `frozen`.
fn relay(mut from: std::net::TcpStream, mut to: std::net::TcpStream, frozen: &AtomicBool) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !frozen.load(SeqCst) && to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Relays the client's bytes as they come and the broker's `frames` first frames, then cuts
/// both ways.
fn relay_frames(server: std::net::TcpStream, client: std::net::TcpStream, frames: usize) {
    use std::io::{Read, Write};
    let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_from, &mut up_to);
    });
    let (mut from, mut to) = (server, client);
    for _ in 0..frames {
        // A frame: type (1), channel (2), payload size (4, big-endian), payload, end (0xCE).
        let mut header = [0u8; 7];
        if from.read_exact(&mut header).is_err() {
            break;
        }
        let size = u32::from_be_bytes(header[3..7].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; size + 1];
        if from.read_exact(&mut rest).is_err() || to.write_all(&header).is_err() {
            break;
        }
        if to.write_all(&rest).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// A worker on `q`'s queues at `brokers` (tried in order) that stops when idle for 2 s,
/// logging to `log` and reporting to `report`; its standard error is piped.
pub fn worker_at(brokers: &[&str], q: &Queues, log: &Path, report: &Path) -> Command {
    let mut c = command();
    c.arg("worker");
    for b in brokers {
        c.args(["--broker", b]);
    }
    c.args(["--queues", &q.topo.queues.to_string()])
        .args(["--queue-prefix", &q.topo.prefix])
        .args(["-q", "--exit-when-idle", "2s", "--log"])
        .arg(log)
        .arg("--json")
        .arg(report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// A worker on the proxy's address (the test's queues), logging to `log`.
pub fn proxied_worker(proxy: &Proxy, q: &Queues, log: &Path) -> std::process::Command {
    let mut c = command();
    c.args(["worker", "--broker", &proxy.url(), "-q"])
        .args(["--queues", &q.topo.queues.to_string()])
        .args(["--queue-prefix", &q.topo.prefix, "--log"])
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// One `POST /api` on a fresh connection; the status, or `None` when the server is not there.
pub fn post_event(addr: &str, account: u64, event: u64) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let body = format!("account_id={account}&event_id={event}");
    let req = format!(
        "POST /api HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split(' ').nth(1)?.parse().ok()
}

/// `serve --broker` on port 0 of this test's queues at `url`, once it listens; its accepted
/// ids in memory.
pub fn serve_broker(url: &str, q: &Queues) -> Spawned {
    serve_broker_with(url, q, &["--in-memory"])
}

/// `serve --broker` on port 0 of this test's queues at `url` with `extra` flags, once it
/// listens.
pub fn serve_broker_with(url: &str, q: &Queues, extra: &[&str]) -> Spawned {
    Spawned::start(
        command()
            .args(["serve", "--listen", "127.0.0.1:0", "--broker", url])
            .args(["--queues", &q.topo.queues.to_string()])
            .args(["--queue-prefix", &q.topo.prefix])
            .args(extra),
        LISTENING,
    )
}

/// `eventbench worker` on `q`, quiet, appending to `log`, its output discarded.
pub fn worker(q: &Queues, log: &Path) -> std::process::Command {
    let mut c = command();
    c.arg("worker")
        .args(q.args())
        .arg("-q")
        .arg("--log")
        .arg(log);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// The logs of a takeover: A's, B's, and B's JSON report.
pub struct Takeover {
    pub log_a: PathBuf,
    pub log_b: PathBuf,
    pub report: PathBuf,
}

/// Worker A consumes `q`; once its log has `standby_at` rows, worker B registers (so it is
/// the standby consumer of every queue); once A's log has `kill_at` rows, A is killed
/// (SIGKILL) and B takes over, exiting after 3 s idle. Panics if B fails.
pub fn kill_and_take_over(q: &Queues, dir: &Path, standby_at: usize, kill_at: usize) -> Takeover {
    let t = Takeover {
        log_a: dir.join("a.csv"),
        log_b: dir.join("b.csv"),
        report: dir.join("b.json"),
    };
    let mut a = worker(q, &t.log_a).spawn().unwrap();
    wait_for_rows(&t.log_a, standby_at, &mut a);
    let mut b = worker(q, &t.log_b)
        .args(["--exit-when-idle", "3s", "--json"])
        .arg(&t.report)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    wait_for_rows(&t.log_a, kill_at, &mut a);
    a.kill().unwrap();
    a.wait().unwrap();
    let status = b.wait().unwrap();
    assert!(status.success(), "worker B failed: {status}");
    t
}

/// `GET path` on a fresh connection: the status and the whole response (head and body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    (status, resp)
}

/// `GET /api/stats` of a live dashboard, parsed.
pub fn stats(addr: &str) -> serde_json::Value {
    let (status, resp) = http_get(addr, "/api/stats");
    assert_eq!(status, 200, "{resp}");
    let body = resp.split_once("\r\n\r\n").expect("a body").1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Polls `/api/stats` of `child`'s dashboard until `until` holds for a sample (the board is
/// sampled every 250 ms); panics after a minute or if `child` exits.
pub fn stats_until(
    child: &mut Spawned,
    what: &str,
    until: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = stats(&child.addr);
        if until(&s) {
            return s;
        }
        assert!(child.try_wait().is_none(), "exited before {what}");
        assert!(Instant::now() < deadline, "no sample with {what}: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `eventbench COMMAND` on `q` with `-q --dashboard 127.0.0.1:0` and `extra`, once it has
/// printed its dashboard's address; killed on drop if still running, so it cannot outlive its
/// test and re-declare the test's deleted queues.
pub fn with_dashboard(command_name: &str, q: &Queues, extra: &[&std::ffi::OsStr]) -> Spawned {
    Spawned::start(
        command()
            .arg(command_name)
            .args(q.args())
            .args(["-q", "--dashboard", "127.0.0.1:0"])
            .args(extra),
        DASHBOARD,
    )
}

#[cfg(test)]
mod tests {
    use super::log_rows;

    #[test]
    fn a_half_written_last_row_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.csv");
        let header = "account_id,event_id,worker,start_us,end_us\n";
        std::fs::write(&log, format!("{header}3,7,1,10,20\n4,8,2,1")).unwrap();
        assert_eq!(log_rows(&log), [[3, 7, 1, 10, 20]]);
        // Once its newline is there, it counts.
        std::fs::write(&log, format!("{header}3,7,1,10,20\n4,8,2,15,25\n")).unwrap();
        assert_eq!(log_rows(&log), [[3, 7, 1, 10, 20], [4, 8, 2, 15, 25]]);
        // A header still being written: no rows yet.
        std::fs::write(&log, "account_id,ev").unwrap();
        assert!(log_rows(&log).is_empty());
        assert!(log_rows(&dir.path().join("none.csv")).is_empty());
    }
}
