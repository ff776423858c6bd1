//! A sweep stopped by Ctrl-C: the run cut short is marked `interrupted` in the terminal table
//! and every export, has no efficiency, and is never compared.

use crate::common::{self, Spawned};
use serde_json::Value;

#[test]
fn a_run_cut_short_by_ctrl_c_has_no_efficiency_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // 40 events of 40 accounts at 100 ms: `auto` takes 0.1 s, one worker 4 s.
    let accounts: Vec<u64> = (1..=40).collect();
    common::write_events(&events, &accounts, None);
    let out = dir.path().join("out");
    let sweep = Spawned::start(
        common::command()
            .current_dir(dir.path())
            .args([
                "compare", "--clock", "real", "-s", "optimal", "-w", "auto,1",
            ])
            .args(["--process-time", "100ms", "--input"])
            .arg(&events)
            .arg("--output-dir")
            .arg(&out),
        "run 2/2",
    );
    // The line comes just before the second run starts and watches Ctrl-C; give it a second
    // (of its 4) to get going, so the signal cannot fall between the two runs.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let done = sweep.stop(libc::SIGINT);
    assert_eq!(done.status.code(), Some(130), "{}", done.stderr);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{doc}");
    assert!(runs[0]["efficiency"].is_f64() && runs[0]["interrupted"] == false);
    assert_eq!(runs[1]["interrupted"], true, "{doc}");
    assert!(runs[1]["efficiency"].is_null(), "{doc}");
    // The terminal table, the Markdown and the CSV say so instead of a percentage.
    let row = done
        .stdout
        .lines()
        .find(|l| l.split_whitespace().take(2).eq(["optimal", "1"]))
        .unwrap_or_else(|| panic!("no row of the 1-worker run: {}", done.stdout));
    assert!(row.contains("interrupted") && !row.contains('%'), "{row}");
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let row = md
        .lines()
        .find(|l| l.starts_with("| optimal | 1 |"))
        .unwrap();
    assert!(row.contains("interrupted") && !row.contains('%'), "{row}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut rows = ::csv::Reader::from_path(out.join("compare.csv")).unwrap();
    let last = rows.records().last().unwrap().unwrap();
    assert_eq!(&last[col("interrupted")], "true");
    assert_eq!(&last[col("efficiency")], "", "{csv}");
    // The page embeds the same document: null, which its script shows as `interrupted`.
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains(r#""efficiency":null"#), "the page's data");
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(
        svg.contains("1 interrupted, not drawn"),
        "the chart's title"
    );
}
