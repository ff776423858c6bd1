//! Fresh runs that meet old state (issue 23 item 9): `serve` says at start what its data dir
//! already holds, and `compare` names its output folder in its first line.

use crate::common::{self, Finished, Spawned, LISTENING};
use std::path::Path;

fn serve(cwd: &Path) -> Spawned {
    Spawned::start(
        common::command().current_dir(cwd).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--process-time",
            "1ms",
        ]),
        LISTENING,
    )
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[test]
fn serve_says_what_its_data_dir_already_holds() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(50, 5, 2), None);
    let first = serve(dir.path());
    assert_eq!(
        first_line(&first.stderr()),
        "data dir ./eventbench-data: 0 events already accepted, 0 unfinished"
    );
    common::eventbench()
        .args(["send", "-q", "--url"])
        .arg(format!("http://{}/api", first.addr))
        .arg("--input")
        .arg(&input)
        .assert()
        .success();
    let Finished { status, .. } = first.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
    let second = serve(dir.path());
    let stderr = second.stderr();
    let line = first_line(&stderr);
    assert!(
        line.starts_with("data dir ./eventbench-data: 50 events already accepted, 0 unfinished"),
        "{stderr}"
    );
    assert!(line.contains("rm -rf ./eventbench-data"), "{line}");
    second.kill();
}

#[test]
fn compare_names_its_output_folder_first() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(30, 3, 2), None);
    let out = common::command()
        .current_dir(dir.path())
        .args(["compare", "-w", "2", "-s", "pool", "--input", "events.csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = first_line(&stderr);
    let folder = line
        .strip_prefix("output folder: ")
        .and_then(|r| r.split('/').take(2).collect::<Vec<_>>().join("/").into())
        .unwrap_or_default();
    assert!(folder.starts_with("results/"), "{stderr}");
    assert!(
        dir.path().join(&folder).join("compare.json").is_file(),
        "{folder}"
    );
}
