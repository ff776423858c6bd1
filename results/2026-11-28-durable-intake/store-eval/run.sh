#!/usr/bin/env bash
# Reruns the store evaluation of results/2026-11-28-durable-intake: group-commit throughput of
# SQLite (WAL), redb and fjall. store_eval.rs is not part of the eventbench crate (redb and fjall
# are not its dependencies), so this builds it as a throwaway crate in a scratch folder (needs
# the crates from crates.io), then runs it with its data on the disk under test.
#   results/2026-11-28-durable-intake/store-eval/run.sh [OUTFILE]   (default: eval-<HHMM>.txt here)
#   DATA=dir   where the stores write (default: a scratch folder under the repository's target/,
#              the disk `serve --data-dir` used in these runs); its sync rate is what is measured
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib.sh"
out=${1:-$here/eval-$(date -u +%H%M).txt}
eb_scratch crate
mkdir -p "$crate/src"
cp "$here/store_eval.rs" "$crate/src/main.rs"
cat > "$crate/Cargo.toml" <<'TOML'
[package]
name = "storeeval"
version = "0.1.0"
edition = "2021"

[dependencies]
rusqlite = { version = "0.32", features = ["bundled"] }
redb = "2"
fjall = "2"

[profile.release]
codegen-units = 4
TOML
(cd "$crate" && cargo build --release --quiet)
if [ -z "${DATA:-}" ]; then
  mkdir -p "$EB_ROOT/target"
  DATA=$(mktemp -d -p "$EB_ROOT/target" storeeval.XXXXXX)
  eb_at_exit "rm -rf '$DATA'"
fi
{ uptime; eb_locked "$crate/target/release/storeeval" "$DATA"; } | tee "$out"
