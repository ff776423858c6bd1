//! `serve --broker` keeps the ids it accepted in its data dir (issue 25, item 5): a restarted
//! server still answers 409 for them. Needs RabbitMQ like the rest of this binary.

use crate::common;
use crate::common::broker::*;

#[test]
fn serve_broker_refuses_an_id_it_accepted_before_it_was_killed() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "relayids");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = ["--data-dir", data.to_str().unwrap()];
    let serve = serve_broker_with(&url, &q, &flags);
    assert_eq!(post_event(&serve.addr, 1, 1), Some(202));
    assert_eq!(post_event(&serve.addr, 2, 2), Some(202));
    assert_eq!(post_event(&serve.addr, 1, 1), Some(409));
    serve.kill(); // SIGKILL: nothing is written at shutdown
    let again = serve_broker_with(&url, &q, &flags);
    assert_eq!(
        post_event(&again.addr, 1, 1),
        Some(409),
        "forgotten across a restart"
    );
    assert_eq!(
        post_event(&again.addr, 2, 2),
        Some(409),
        "forgotten across a restart"
    );
    assert_eq!(post_event(&again.addr, 1, 3), Some(202));
    again.kill();
    assert_eq!(ready_messages(&url, &q.topo), 3, "each id published once");
}

/// `serve --broker` keeps the high-water mark of its accepted ids, as `serve` does: a
/// database that lost them is refused (exit 2), not taken for one that never had them (which
/// would publish those ids again). With `--accept-data-loss` the mark's ids stay a 409, the
/// report records the gap, and the run exits 1. Before, broker mode wrote no mark, and the
/// restart below answered 202 for ids it had accepted.
#[test]
fn serve_broker_keeps_a_high_water_mark_and_refuses_a_database_that_lost_ids() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "relaymark");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = ["--data-dir", data.to_str().unwrap()];
    let serve = serve_broker_with(&url, &q, &flags);
    for id in 1..=3 {
        assert_eq!(post_event(&serve.addr, id, id), Some(202));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while common::marked(&data) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the mark never covered 3 ids"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    serve.kill();
    // The database is lost (restored from an old backup, a volume not mounted): only the mark
    // is left.
    for f in ["queue.sqlite", "queue.sqlite-wal", "queue.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let refused = crate::common::eventbench()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(q.args())
        .args(flags)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        stderr.contains("holds less than its high-water mark"),
        "{stderr}"
    );
    let report = dir.path().join("serve.json");
    let mut with_loss = flags.to_vec();
    with_loss.extend(["--accept-data-loss", "--json", report.to_str().unwrap()]);
    let again = serve_broker_with(&url, &q, &with_loss);
    assert!(again.stderr().contains("WARNING: --accept-data-loss"));
    assert_eq!(
        post_event(&again.addr, 1, 2),
        Some(409),
        "a lost id stays refused"
    );
    assert_eq!(post_event(&again.addr, 1, 4), Some(202));
    let done = again.stop(libc::SIGTERM);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    let r = json(&report);
    assert_eq!(r["data_loss"]["missing_accepted"], 3, "{r}");
    assert_eq!(ready_messages(&url, &q.topo), 4, "each id published once");
}
