//! `eventbench report`, `compare.html` and the `--dashboard` flag, driving the binary (the
//! pages themselves are exercised in a real browser by tests/browser).

use crate::common;
use predicates::prelude::*;
use std::path::Path;

fn eventbench(dir: &Path) -> assert_cmd::Command {
    let mut c = common::eventbench();
    c.current_dir(dir);
    c
}

/// The JSON embedded in a page's data script.
fn embedded(html: &str) -> serde_json::Value {
    let start = html.find("id=\"eb-data\">").unwrap() + "id=\"eb-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn a_run_report_renders_as_a_table_and_as_a_page() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_events(&tmp.path().join("events.csv"), &[1, 2, 1, 3], None);
    eventbench(tmp.path())
        .args(["run", "-q", "--clock", "virtual", "--json", "r.json"])
        .args(["--input", "events.csv"])
        .assert()
        .success();
    eventbench(tmp.path())
        .args(["report", "r.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("lower bound 2.000 s"));
    eventbench(tmp.path())
        .args(["report", "-q", "r.json", "--html", "r.html"])
        .assert()
        .success()
        .stdout("");
    let html = std::fs::read_to_string(tmp.path().join("r.html")).unwrap();
    let data = embedded(&html);
    assert_eq!(data["kind"], "report");
    assert_eq!(data["doc"]["events"], 4);
    assert!(html.contains("uPlot"), "the chart library is embedded");
}

#[test]
fn a_report_of_another_command_renders_too() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = r#"{"eventbench_version": "9.9.9", "strategy": "external", "events": 3,
        "wall_time_s": 2.5, "lower_bound_s": 2.0, "efficiency": 0.8, "lost": 1}"#;
    std::fs::write(tmp.path().join("v.json"), doc).unwrap();
    eventbench(tmp.path())
        .args(["report", "v.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("lost").and(predicate::str::contains("external")));
    eventbench(tmp.path())
        .args(["report", "-q", "v.json", "--html", "v.html"])
        .assert()
        .success();
    let html = std::fs::read_to_string(tmp.path().join("v.html")).unwrap();
    assert_eq!(embedded(&html)["doc"]["lost"], 1);
}

#[test]
fn bad_documents_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("broken.json"), "{\n\"events\": 1,\n").unwrap();
    eventbench(tmp.path())
        .args(["report", "broken.json", "--html", "out.html"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json:3: not valid JSON"));
    std::fs::write(tmp.path().join("other.json"), r#"{"name": "x"}"#).unwrap();
    eventbench(tmp.path())
        .args(["report", "other.json", "--html", "out.html"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an eventbench report"));
    eventbench(tmp.path())
        .args(["report", "missing.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
    assert!(!tmp.path().join("out.html").exists());
}

#[test]
fn compare_writes_a_page_with_the_baseline_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_events(
        &tmp.path().join("events.csv"),
        &common::accounts(60, 6, 1),
        None,
    );
    eventbench(tmp.path())
        .args(["compare", "-q", "-w", "2,auto", "--output-dir", "a"])
        .args(["--input", "events.csv"])
        .assert()
        .success();
    let page = std::fs::read_to_string(tmp.path().join("a/compare.html")).unwrap();
    let data = embedded(&page);
    assert_eq!(data["kind"], "compare");
    assert_eq!(data["verdict"], serde_json::Value::Null);
    assert_eq!(data["doc"]["runs"].as_array().unwrap().len(), 6);
    eventbench(tmp.path())
        .args(["compare", "-q", "-w", "2,auto", "--output-dir", "b"])
        .args(["--input", "events.csv"])
        .args(["--baseline", "a/compare.json"])
        .assert()
        .success();
    let page = std::fs::read_to_string(tmp.path().join("b/compare.html")).unwrap();
    let verdict = &embedded(&page)["verdict"];
    assert_eq!(verdict["unchanged"], 6, "{verdict}");
    assert_eq!(verdict["regressed"].as_array().unwrap().len(), 0);
}

#[test]
fn the_dashboard_needs_the_real_clock() {
    let tmp = tempfile::tempdir().unwrap();
    eventbench(tmp.path())
        .args(["run", "--clock", "virtual", "--dashboard"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--dashboard watches a real-clock run",
        ));
}

#[test]
fn a_taken_dashboard_port_fails_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    common::write_events(&tmp.path().join("events.csv"), &[1, 2, 1], None);
    eventbench(tmp.path())
        .args(["run", "-q", "--process-time", "1s", "--dashboard", &addr])
        .args(["--input", "events.csv"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("cannot listen on"))
        .stderr(predicate::str::contains("--dashboard 127.0.0.1:0"));
}

#[test]
fn an_http_ingest_run_shows_its_servers_dashboard() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_events(&tmp.path().join("events.csv"), &[1, 2, 1], None);
    eventbench(tmp.path())
        .args(["run", "-q", "--ingest", "http", "--process-time", "10ms"])
        .args(["--input", "events.csv"])
        .args(["--dashboard", "127.0.0.1:0"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success()
        .stdout(predicate::str::contains("3 of 3 events ran once each"))
        .stderr(predicate::str::contains(
            "live dashboard: http://127.0.0.1:",
        ));
}
