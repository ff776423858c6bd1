#!/usr/bin/env bash
# Reruns results/2026-11-26-benches: the divan benches of the engine and the CSV loader, on an
# idle machine, with the machine description beside them.
#   results/2026-11-26-benches/run.sh
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
. "$out/../scripts/lib.sh"
"$EB_SCRIPTS/machine.sh" bench > "$out/machine.md"
cd "$EB_ROOT"
cargo bench --bench engine 2>&1 | tee "$out/engine.txt"
cargo bench --bench loader 2>&1 | tee "$out/loader.txt"
