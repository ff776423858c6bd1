//! Names the build for `--version` and the reports: the git commit the binary was built from,
//! whether the files that go into it differed from that commit, the compiler and the profile.
//! Plain `git` and `rustc` commands rather than a crate: four short commands do not justify
//! a dependency tree in every build (vergen and friends pull in gix or git2).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What goes into the binary: the dirty check looks at these, and they trigger the check again.
const INPUTS: [&str; 5] = ["src", "assets", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    let (commit, dirty) = match git_dir(&manifest) {
        Some(dirs) => {
            watch(&manifest, &dirs);
            let commit = git(&manifest, &["rev-parse", "--short", "HEAD"]);
            let dirty = commit.as_ref().and_then(|_| dirty(&manifest));
            (commit, dirty)
        }
        None => (None, None),
    };
    let commit = commit.unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let line = match (commit.as_str(), dirty) {
        ("unknown", _) => format!("{version} (commit unknown)"),
        (c, Some(true)) => format!("{version} ({c}, dirty)"),
        (c, _) => format!("{version} ({c})"),
    };
    let dirty = dirty.map_or("unknown", |d| if d { "true" } else { "false" });
    println!("cargo:rustc-env=EVENTBENCH_COMMIT={commit}");
    println!("cargo:rustc-env=EVENTBENCH_DIRTY={dirty}");
    println!("cargo:rustc-env=EVENTBENCH_RUSTC={rustc}");
    println!("cargo:rustc-env=EVENTBENCH_PROFILE={profile}");
    println!("cargo:rustc-env=EVENTBENCH_VERSION_LINE={line}");
}

/// Runs git in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["--no-optional-locks"])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The checkout's git dir and common dir (they differ in a worktree), or None when this
/// package is not tracked by git: built from a crates tarball, or unpacked inside some
/// unrelated repository, whose commit would name the wrong thing.
fn git_dir(manifest: &Path) -> Option<(PathBuf, PathBuf)> {
    git(manifest, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let out = git(manifest, &["rev-parse", "--git-dir", "--git-common-dir"])?;
    let mut lines = out.lines().map(|l| manifest.join(l));
    Some((lines.next()?, lines.next()?))
}

/// Re-run when the commit can have changed (HEAD moved, the branch it names moved) or the
/// staged state did (the index), beside the inputs above.
fn watch(manifest: &Path, (git_dir, common): &(PathBuf, PathBuf)) {
    let mut paths = vec![git_dir.join("HEAD"), git_dir.join("index")];
    if let Some(branch) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(common.join(branch));
    }
    paths.push(common.join("packed-refs"));
    // A path that does not exist would make cargo run this script on every build.
    for p in paths.into_iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

/// Whether the inputs differ from HEAD (staged or not; untracked files do not count).
fn dirty(manifest: &Path) -> Option<bool> {
    let mut args = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    args.extend(INPUTS);
    git(manifest, &args).map(|s| !s.is_empty())
}
