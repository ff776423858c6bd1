//! The walls of docs/ARCHITECTURE.md, checked on the source: which module may name which,
//! the one router, the one lock helper. A branch that brings a copy or an upward import back
//! fails here instead of in review.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code of a file without its comments (doc comments may name any module).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The files of `room` (a module folder or a single file) that name one of `forbidden`.
fn violations(room: &str, forbidden: &[&str]) -> Vec<String> {
    let base = src();
    let files: Vec<(PathBuf, String)> = sources(&base)
        .into_iter()
        .filter(|(p, _)| {
            let rel = p.strip_prefix(&base).unwrap().to_string_lossy().to_string();
            rel == format!("{room}.rs") || rel.starts_with(&format!("{room}/"))
        })
        .collect();
    assert!(!files.is_empty(), "no source files for {room}");
    let mut found = Vec::new();
    for (path, text) in files {
        let code = code(&text);
        for module in forbidden {
            if code.contains(&format!("crate::{module}::"))
                || code.contains(&format!("crate::{module};"))
                || code.contains(&format!("crate::{module}}}"))
            {
                found.push(format!("{} names {module}", path.display()));
            }
        }
    }
    found
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    let above_engine = [
        "intake", "broker", "handler", "report", "cmd", "export", "live", "pipeline", "web",
        "send", "judge", "cli",
    ];
    let mut found = Vec::new();
    for room in ["engine", "workload", "types"] {
        found.extend(violations(room, &above_engine));
    }
    let beside_report = [
        "broker", "intake", "handler", "cmd", "export", "live", "pipeline", "web", "send", "cli",
    ];
    found.extend(violations("report", &beside_report));
    found.extend(violations(
        "export",
        &[
            "intake", "broker", "handler", "cmd", "pipeline", "send", "cli",
        ],
    ));
    found.extend(violations(
        "web",
        &[
            "intake", "broker", "handler", "cmd", "pipeline", "export", "send", "cli",
        ],
    ));
    found.extend(violations(
        "live",
        &["intake", "broker", "handler", "cmd", "pipeline", "web"],
    ));
    found.extend(violations("cli", &["cmd", "pipeline", "intake"]));
    found.extend(violations("pipeline", &["cmd", "cli"]));
    for room in ["intake", "broker", "handler", "send", "judge"] {
        found.extend(violations(room, &["cmd", "pipeline", "cli"]));
    }
    assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
}

#[test]
fn no_subcommand_imports_another() {
    let dir = src().join("cmd");
    let mut found = Vec::new();
    for (path, text) in sources(&dir) {
        if path.file_name().is_some_and(|n| n == "mod.rs") {
            continue;
        }
        let code = code(&text);
        if code.contains("crate::cmd::") {
            found.push(path.display().to_string());
        }
    }
    assert!(found.is_empty(), "subcommands importing others: {found:?}");
}

#[test]
fn one_router_serves_the_api_and_the_intake_has_no_http_client() {
    let all = sources(&src());
    let routes: usize = all
        .iter()
        .map(|(_, t)| code(t).matches(".route(\"/api\"").count())
        .sum();
    assert_eq!(routes, 1, "POST /api must be routed in exactly one place");
    let clients: Vec<String> = sources(&src().join("intake"))
        .into_iter()
        .filter(|(_, t)| code(t).contains("reqwest"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        clients.is_empty(),
        "HTTP client code in the intake: {clients:?}"
    );
}

#[test]
fn a_poisoned_lock_is_handled_only_in_sync_rs() {
    let found: Vec<String> = sources(&src())
        .into_iter()
        .filter(|(p, _)| !p.ends_with("sync.rs"))
        .filter(|(_, t)| {
            let c = code(t);
            c.contains("PoisonError::into_inner") || c.contains("|p| p.into_inner()")
        })
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        found.is_empty(),
        "poison handled outside src/sync.rs: {found:?}"
    );
}
