//! `verify` reading logs: lines per second for our own CSV, a foreign CSV with unix times, and
//! a text log read with a regular expression and a strftime format (1M lines each, in memory:
//! the cost is parsing and checking, not the disk).

use divan::counter::ItemsCount;
use divan::Bencher;
use eventbench::internals::foreign_log::{read_bytes, LogSpec};
use eventbench::internals::Judge;
use eventbench::types::Micros;
use eventbench::workload::{generate, Workload};
use std::fmt::Write;
use std::path::Path;
use std::sync::OnceLock;

const LINES: u64 = 1_000_000;

fn main() {
    divan::main();
}

/// 1M events over 100k accounts, processed back to back per account (a correct log).
fn workload() -> &'static Workload {
    static W: OnceLock<Workload> = OnceLock::new();
    W.get_or_init(|| {
        let mut spec = generate::builtin_spec();
        spec.events = LINES;
        spec.max_account_id = LINES / 10;
        generate::build(&spec, Micros(1_000))
    })
}

/// One log line per event, in arrival order, each account's events 1 ms apart.
fn log(line: impl Fn(&mut String, u64, u64, u64)) -> Vec<u8> {
    let w = workload();
    let mut next = vec![0u64; w.account_count()];
    let mut out = String::with_capacity(64 * LINES as usize);
    for e in w.indexes() {
        let a = w.account_of(e);
        let start = next[a.0 as usize];
        next[a.0 as usize] += 1_000;
        line(&mut out, w.account_id(a).0, w.event_id(e).0, start);
    }
    out.into_bytes()
}

fn judge(b: Bencher, bytes: &[u8], spec: &LogSpec) {
    let w = workload();
    b.counter(ItemsCount::new(LINES)).bench_local(|| {
        let mut j = Judge::new(w);
        let s = read_bytes(bytes, Path::new("bench.log"), spec, |e| j.add(e)).unwrap();
        let f = j.finish(&s);
        assert_eq!(f.lost + f.reordered + f.overlaps, 0);
    });
}

fn spec(pattern: Option<&str>, time: &str) -> LogSpec {
    LogSpec {
        pattern: pattern.map(|p| p.parse().unwrap()),
        time: time.parse().unwrap(),
    }
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn eventbench_csv(b: Bencher) {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = LOG.get_or_init(|| {
        let mut head = String::from("account_id,event_id,worker,start_us,end_us\n").into_bytes();
        head.extend(log(|o, a, e, s| {
            let _ = writeln!(o, "{a},{e},0,{s},{}", s + 1_000);
        }));
        head
    });
    judge(b, bytes, &spec(None, "auto"));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn foreign_csv_unix_seconds(b: Bencher) {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = LOG.get_or_init(|| {
        let mut head = String::from("event_id,account_id,start,end\n").into_bytes();
        head.extend(log(|o, a, e, s| {
            let t = 1_795_835_645_000_000 + s;
            let _ = writeln!(
                o,
                "{e},{a},{}.{:06},{}.{:06}",
                t / 1_000_000,
                t % 1_000_000,
                (t + 1_000) / 1_000_000,
                (t + 1_000) % 1_000_000
            );
        }));
        head
    });
    judge(b, bytes, &spec(None, "auto"));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn text_pattern_strftime(b: Bencher) {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = LOG.get_or_init(|| {
        log(|o, a, e, s| {
            // Whole seconds (the format most hand-written logs have), an account's events a
            // second apart.
            let secs = s / 1_000;
            let _ = writeln!(
                o,
                "[28.11.2026 03:{:02}:{:02}] Executed event {e} for account {a}",
                (secs / 60) % 60,
                secs % 60
            );
        })
    });
    let pattern =
        r"\[(?P<time>[^\]]+)\] Executed event (?P<event_id>\d+) for account (?P<account_id>\d+)";
    judge(b, bytes, &spec(Some(pattern), "%d.%m.%Y %H:%M:%S"));
}
