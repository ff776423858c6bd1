#!/usr/bin/env bash
# Writes the workloads of the Confluent Parallel Consumer table (results/2026-11-26-durations,
# reused by results/2026-11-28-short-events): 10,000 events, each 0..5 ms (uniform, inclusive),
# keys = accounts, one seed, so every file has the same durations and only the keys differ.
# Byte-identical on every run.
# Usage: results/scripts/gen-durations.sh DIR [NAME...]
#   NAME: key-1 key-2 key-10 key-1000 unordered zipf-1000 (default: all); writes DIR/NAME.csv
#   EVENTBENCH: the binary (default target/release/eventbench; not built here)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
dir=${1:?output folder}; shift
[ $# -gt 0 ] || set -- key-1 key-2 key-10 key-1000 unordered zipf-1000
mkdir -p "$dir"
for name in "$@"; do
  case $name in
    key-1) max=1 ;;
    key-2) max=2 ;;
    key-10) max=10 ;;
    key-1000 | zipf-1000) max=1000 ;;
    unordered) max=10000000 ;;   # ~every event its own account (a handful of collisions)
    *) echo "unknown workload $name" >&2; exit 2 ;;
  esac
  extra=()
  [ "$name" = zipf-1000 ] && extra=(--distribution zipf:1.2)
  "$EVENTBENCH" generate -q --events 10000 --max-account-id "$max" --duration uniform:0ms..5ms \
    --seed 20261126 "${extra[@]}" --output "$dir/$name.csv"
done
