//! Which build made a report: version, git commit, dirtiness, compiler and profile, fixed at
//! compile time by build.rs. Names nothing above it, so every report and page may carry it.

use serde::{Deserialize, Serialize};

/// `0.1.0 (1a2b3c4)`, `0.1.0 (1a2b3c4, dirty)` or `0.1.0 (commit unknown)`: what `-V` prints.
pub(crate) const VERSION_LINE: &str = env!("EVENTBENCH_VERSION_LINE");
/// The short commit hash, or `unknown` outside a git checkout.
pub(crate) const COMMIT: &str = env!("EVENTBENCH_COMMIT");

/// The build of the binary that wrote a document (the `build` object of every JSON report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Build {
    pub version: String,
    /// Short git commit hash, or `unknown` when built outside a git checkout.
    pub commit: String,
    /// The files that go into the binary (src/, assets/, build.rs, Cargo.toml, Cargo.lock)
    /// differed from `commit`; null when the commit is unknown.
    pub dirty: Option<bool>,
    /// `rustc --version` of the compiler.
    pub rustc: String,
    /// Cargo's profile: `debug` or `release`.
    pub profile: String,
}

impl Build {
    /// This binary's build.
    pub(crate) fn current() -> Build {
        Build {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: COMMIT.to_string(),
            dirty: match env!("EVENTBENCH_DIRTY") {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            rustc: env!("EVENTBENCH_RUSTC").to_string(),
            profile: env!("EVENTBENCH_PROFILE").to_string(),
        }
    }

    /// `0.1.0 (1a2b3c4, dirty)`: the version line of the build that wrote a document.
    pub(crate) fn label(&self) -> String {
        match (self.commit.as_str(), self.dirty) {
            ("unknown", _) => format!("{} (commit unknown)", self.version),
            (c, Some(true)) => format!("{} ({c}, dirty)", self.version),
            (c, _) => format!("{} ({c})", self.version),
        }
    }

    /// `eventbench version --verbose`: the version line, then one `key: value` per line.
    pub(crate) fn verbose(&self) -> String {
        let dirty = self.dirty.map_or("unknown".to_string(), |d| d.to_string());
        format!(
            "eventbench {VERSION_LINE}\ncommit:  {}\ndirty:   {dirty}\nrustc:   {}\nprofile: {}\n",
            self.commit, self.rustc, self.profile
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_names_the_commit() {
        let b = Build::current();
        assert_eq!(b.label(), VERSION_LINE);
        match b.dirty {
            None => assert!(VERSION_LINE.ends_with("(commit unknown)")),
            Some(true) => assert!(VERSION_LINE.ends_with(&format!("({}, dirty)", b.commit))),
            Some(false) => assert!(VERSION_LINE.ends_with(&format!("({})", b.commit))),
        }
        assert!(b.rustc.starts_with("rustc "), "{}", b.rustc);
        assert!(["debug", "release"].contains(&b.profile.as_str()));
    }

    #[test]
    fn an_old_document_without_build_reads_as_none() {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(default)]
            build: Option<Build>,
        }
        let old: Doc = serde_json::from_str("{}").unwrap();
        assert!(old.build.is_none());
        let json = serde_json::to_string(&Build::current()).unwrap();
        let back: Build = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Build::current());
    }
}
