//! Issue 23 item 6: reports that lead with the verdict. A failed check or a failing handler
//! comes right under the first line of the terminal report and first on the HTML page (with
//! its examples); lines without meaning for a run are left out; short runs keep three
//! significant digits; compare ends with a one-line conclusion, and its SVG and HTML give a
//! strategy the same colour.

use crate::common::{self, eventbench};
use serde_json::Value;
use std::path::Path;

/// Events of accounts 1, 2, 1, 2, 3 (ids 1..=5) and a log where event 2 is lost, event 3 ran
/// before event 1 of the same account, and event 4 ran twice.
fn failed_case(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let events = dir.join("events.csv");
    common::write_events(&events, &[1, 2, 1, 2, 3], None);
    let log = dir.join("log.csv");
    std::fs::write(
        &log,
        "account_id,event_id,worker,start_us,end_us\n\
         1,3,0,0,1000\n1,1,0,1000,2000\n2,4,1,0,1000\n2,4,1,1000,2000\n3,5,2,0,1000\n",
    )
    .unwrap();
    (events, log)
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).to_string()
}

/// The JSON a page embeds for its script.
fn page_data(html: &str) -> Value {
    let start = html.find("id=\"eb-data\">").unwrap() + "id=\"eb-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn a_failed_verify_leads_with_what_was_lost_duplicated_and_reordered() {
    let dir = tempfile::tempdir().unwrap();
    let (events, log) = failed_case(dir.path());
    let json = dir.path().join("v.json");
    let out = eventbench()
        .args(["-q", "verify", "--process-time", "1ms", "--events"])
        .arg(&events)
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&json)
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[1].starts_with("ordering     FAILED: 1 lost, 1 duplicated, 1 reordered"),
        "{stdout}"
    );
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle}: {stdout}"))
    };
    let figures = at("wall time");
    assert!(at("  lost: event 2 of account 2") < figures, "{stdout}");
    assert!(
        at("  duplicate: event 4 of account 2") < figures,
        "{stdout}"
    );
    assert!(at("  violation: account 1") < figures, "{stdout}");
    // Said once, on top: not again at the bottom.
    assert_eq!(stdout.matches("lost: event 2").count(), 1, "{stdout}");
    // No CPU of ours to speak of in a judged log.
    assert!(!stdout.contains("cpu time"), "{stdout}");

    let html = dir.path().join("v.html");
    eventbench()
        .args(["-q", "report"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .assert()
        .success();
    let data = page_data(&std::fs::read_to_string(&html).unwrap());
    let alarm = &data["alarms"][0];
    assert_eq!(alarm["what"], "ordering", "{data}");
    assert_eq!(alarm["failed"], true);
    let kinds: Vec<&str> = alarm["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[0].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["lost", "duplicate", "violation"], "{data}");
    assert_eq!(alarm["examples"][0][1], "event 2 of account 2");
}

#[test]
fn a_virtual_run_leaves_out_cpu_and_overshoot_and_keeps_three_digits() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // Account 1 has a chain of 3 events of 2 ms: the bound is 6 ms.
    common::write_events(&events, &[1, 1, 1, 2], None);
    let out = eventbench()
        .args(["-q", "run", "--clock", "virtual", "--process-time", "2ms"])
        .arg("--input")
        .arg(&events)
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    assert!(
        stdout.contains("wall time    0.00600 s   lower bound 0.00600 s"),
        "{stdout}"
    );
    assert!(!stdout.contains("cpu time     0.000 s"), "{stdout}");
    assert!(!stdout.contains("overshoot"), "{stdout}");
}

#[test]
fn the_built_in_workload_line_has_single_parentheses() {
    // In an empty folder with /dev/null as input: the built-in workload.
    let dir = tempfile::tempdir().unwrap();
    let out = common::command()
        .args(["run", "--clock", "virtual"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("input: built-in workload (seed 7): 10000 events, 1000 accounts;"),
        "{stderr}"
    );
    assert!(!stderr.contains(") ("), "{stderr}");
}

#[test]
fn a_handler_that_timed_out_is_on_the_second_line_with_the_bound_basis() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    common::write_events(&events, &[1, 2, 1, 2], None);
    let json = dir.path().join("r.json");
    // Event 3 sleeps far past the 300 ms timeout; the others return at once.
    let out = eventbench()
        .args(["-q", "run", "--workers", "2", "--on-failure", "skip"])
        .args(["--handler", "exec:sh -c '[ {event_id} -ne 3 ] || sleep 5'"])
        .args(["--handler-timeout", "300ms", "--allow-failures", "--input"])
        .arg(&events)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    let second = stdout.lines().nth(1).unwrap();
    assert_eq!(
        second,
        "handler      FAILED 1 of 4 calls (1 timed out): 1 events given up, 0 not attempted \
         (bound basis: measured)",
        "{stdout}"
    );
    assert!(stdout.contains("1 given up by the handler"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["handler_timeouts"], 1);
}

#[test]
fn compare_concludes_in_one_line_and_colours_a_strategy_alike_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    common::write_events(&events, &common::accounts(400, 40, 3), None);
    let out_dir = dir.path().join("out");
    let out = eventbench()
        .args(["-q", "compare", "-w", "2,8", "--output-dir"])
        .arg(&out_dir)
        .arg("--input")
        .arg(&events)
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("conclusion: "), "{stdout}");
    assert!(
        last.contains("× faster than ") && last.ends_with("% of the bound"),
        "{last}"
    );
    let html = std::fs::read_to_string(out_dir.join("compare.html")).unwrap();
    let data = page_data(&html);
    assert_eq!(
        format!("conclusion: {}", data["conclusion"].as_str().unwrap()),
        last
    );
    // `report` of the saved document says it too.
    let again = eventbench()
        .arg("report")
        .arg(out_dir.join("compare.json"))
        .assert()
        .success();
    let again = text(&again.get_output().stdout);
    assert_eq!(again.lines().last(), Some(last), "{again}");
    let svg = std::fs::read_to_string(out_dir.join("compare.svg"))
        .unwrap()
        .to_uppercase();
    for s in ["sharded", "pool", "optimal"] {
        let colour = data["colours"][s].as_str().unwrap().to_uppercase();
        assert!(svg.contains(&colour), "{s}: {colour} not in the SVG");
    }
}
