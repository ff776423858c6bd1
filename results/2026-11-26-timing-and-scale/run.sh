#!/usr/bin/env bash
# Reproduces the figures of README.md in this folder. Run from the repository root:
#   bash results/2026-11-26-timing-and-scale/run.sh
# Takes about 3 minutes; needs ~2 GB free disk for the 10M-event file (written to /tmp).
set -euo pipefail
out=$(dirname "$0")
eb=target/release/eventbench
cargo build --release -q
big=/tmp/eventbench-10m.csv
[ -f "$big" ] || $eb generate -q --events 10000000 --max-account-id 1000000 --seed 1 --output "$big"

timed() { # name, args...
  local name=$1; shift
  /usr/bin/time -v "$eb" "$@" -q --json "$out/$name.json" > /dev/null 2> "$out/$name.time"
  printf '%-28s wall %-10s bound %-6s eff %-8s overshoot p50/p99 %s/%s us  rss %s KB\n' "$name" \
    "$(jq .wall_time_s "$out/$name.json")" "$(jq .lower_bound_s "$out/$name.json")" \
    "$(jq .efficiency "$out/$name.json")" "$(jq .overshoot_us.p50 "$out/$name.json")" \
    "$(jq .overshoot_us.p99 "$out/$name.json")" \
    "$(grep 'Maximum resident' "$out/$name.time" | awk '{print $6}')"
}

timed classic-optimal-auto run
timed classic-per-account run --strategy per-account
timed 10m-optimal-auto run --input "$big"
timed 10m-per-account run --input "$big" --strategy per-account
timed 10m-zero-time-per-account run --input "$big" --strategy per-account --process-time 0s
timed 10m-zero-time-optimal run --input "$big" --process-time 0s
timed 10m-pool-100k-100ms run --input "$big" --strategy pool --workers 100000 --process-time 100ms
timed 10m-virtual-optimal-auto run --input "$big" --clock virtual
timed 10m-virtual-pool-100k run --input "$big" --clock virtual --strategy pool --workers 100000
