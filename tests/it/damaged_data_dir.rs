//! A data dir damaged after a crash never loses accepted events silently: kill -9 a `serve`
//! holding unfinished events, damage its data dir four ways (WAL truncated, WAL deleted,
//! database truncated to 0 bytes, `DROP TABLE queue`), and restart: without
//! `--accept-data-loss` the start is refused with exit 2 and says what is missing; with it the
//! server starts, every id the high-water mark holds stays refused (409, never 202), the
//! report records the gap in the terminal and in JSON, and the run exits 1.

use crate::common::broker::post_event;
use crate::common::{self, marked, Spawned, LISTENING};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Events the crashed server holds, over this many accounts: few enough (about three WAL
/// frames each) that SQLite's checkpoint at 1,000 frames has not run, so the WAL holds them.
const EVENTS: u64 = 150;
const ACCOUNTS: u64 = 10;

/// One POST /api on a fresh connection (account `event % ACCOUNTS`); its status code, 0 when
/// the connection failed.
fn post(addr: &str, event: u64) -> u16 {
    post_event(addr, event % ACCOUNTS, event).unwrap_or(0)
}

fn serve(data: &Path, extra: &[&str]) -> Spawned {
    Spawned::start(
        common::command()
            .args(["serve", "--listen", "127.0.0.1:0", "--process-time", "1h"])
            .args(["--drain-timeout", "0s", "--data-dir"])
            .arg(data)
            .args(extra),
        LISTENING,
    )
}

/// A data dir whose server was killed (-9) holding `EVENTS` accepted, unfinished events (an
/// hour each), once its high-water mark covers all of them.
fn crashed(at: &Path) -> PathBuf {
    let data = at.join("crashed");
    let server = serve(&data, &[]);
    for e in 1..=EVENTS {
        assert_eq!(post(&server.addr, e), 202, "event {e}");
    }
    // The mark is written within a second of a commit; the test waits for it, not a clock.
    for _ in 0..300 {
        if marked(&data) == EVENTS {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(marked(&data), EVENTS, "the mark never covered every event");
    server.kill();
    data
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    WalTruncated,
    WalDeleted,
    DbTruncated,
    QueueDropped,
}

impl Damage {
    fn apply(self, data: &Path) {
        let db = data.join("queue.sqlite");
        let wal = data.join("queue.sqlite-wal");
        match self {
            Damage::WalTruncated => {
                let len = std::fs::metadata(&wal).unwrap().len();
                assert!(len > 0, "the crash left no WAL");
                let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
                f.set_len(len / 3).unwrap();
            }
            Damage::WalDeleted => std::fs::remove_file(&wal).unwrap(),
            Damage::DbTruncated => {
                let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
                f.set_len(0).unwrap();
            }
            Damage::QueueDropped => {
                let conn = rusqlite::Connection::open(&db).unwrap();
                conn.execute_batch("DROP TABLE queue").unwrap();
            }
        }
    }

    /// What the refusal must name.
    fn expected(self) -> String {
        match self {
            Damage::QueueDropped => "table queue is missing".into(),
            _ => format!("of {EVENTS} accepted events"),
        }
    }
}

const DAMAGES: [Damage; 4] = [
    Damage::WalTruncated,
    Damage::WalDeleted,
    Damage::DbTruncated,
    Damage::QueueDropped,
];

fn refused(data: &Path, damage: Damage) {
    let out = common::eventbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{damage:?}: {stderr}");
    assert!(stderr.contains(&damage.expected()), "{damage:?}: {stderr}");
    assert!(
        stderr.contains("--accept-data-loss"),
        "{damage:?}: {stderr}"
    );
    if !matches!(damage, Damage::QueueDropped) {
        assert!(stderr.contains("queue.mark"), "{damage:?}: {stderr}");
        assert!(stderr.contains("last sequence"), "{damage:?}: {stderr}");
    }
}

fn accepted_anyway(dir: &Path, data: &Path, damage: Damage) {
    let json = dir.join(format!("{damage:?}.json"));
    let server = serve(
        data,
        &["--accept-data-loss", "--json", json.to_str().unwrap()],
    );
    assert!(
        server.stderr().contains("WARNING"),
        "{damage:?}: {}",
        server.stderr()
    );
    // Every id the mark holds stays refused, lost or not; a new one is accepted.
    for e in 1..=EVENTS {
        assert_eq!(
            post(&server.addr, e),
            409,
            "{damage:?}: event {e} accepted again"
        );
    }
    assert_eq!(post(&server.addr, EVENTS + 1), 202, "{damage:?}");
    let done = server.stop(libc::SIGINT);
    // It ran as asked, but a run that lost accepted events is never a success.
    assert_eq!(done.status.code(), Some(1), "{damage:?}: {}", done.stderr);
    assert!(
        done.stderr.contains("lost accepted events"),
        "{damage:?}: {}",
        done.stderr
    );
    assert!(
        done.stdout.contains("DATA LOST"),
        "{damage:?}: {}",
        done.stdout
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let loss = &report["data_loss"];
    assert!(loss.is_object(), "{damage:?}: no data_loss in {report}");
    assert_eq!(loss["mark_accepted"], EVENTS, "{damage:?}: {loss}");
    let missing = loss["missing_accepted"].as_u64().unwrap();
    match damage {
        Damage::QueueDropped => {
            assert_eq!(missing, 0, "the accepted ids survived: {loss}");
            assert!(loss["damage"].to_string().contains("queue"), "{loss}");
        }
        _ => assert!(missing > 0, "{damage:?}: {loss}"),
    }
    assert_eq!(
        loss["found_accepted"].as_u64().unwrap() + missing,
        EVENTS,
        "{damage:?}: {loss}"
    );
}

#[test]
fn a_damaged_data_dir_is_refused_or_its_gap_reported_never_lost_silently() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = crashed(dir.path());
    for damage in DAMAGES {
        for accept in [false, true] {
            let data = dir.path().join(format!("{damage:?}-{accept}"));
            copy_dir(&crashed, &data);
            damage.apply(&data);
            if accept {
                accepted_anyway(dir.path(), &data, damage);
            } else {
                refused(&data, damage);
            }
        }
    }
}

#[test]
fn an_undamaged_crash_restarts_without_a_word_of_loss() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = crashed(dir.path());
    let json = dir.path().join("report.json");
    let server = serve(&crashed, &["--json", json.to_str().unwrap()]);
    assert!(!server.stderr().contains("WARNING"), "{}", server.stderr());
    let done = server.stop(libc::SIGINT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["resumed"], EVENTS, "{report}");
    assert!(report.get("data_loss").is_none(), "{report}");
}
