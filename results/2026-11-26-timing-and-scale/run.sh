#!/usr/bin/env bash
# Reproduces the figures of README.md in this folder, on an idle machine:
#   results/2026-11-26-timing-and-scale/run.sh
# Takes about 12 minutes; writes a 148 MB events file to a scratch folder (BIG=file keeps it
# there and reuses it on the next run). Needs GNU time and jq.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
. "$out/../scripts/lib.sh"
eb_build --bin eventbench
eb=$EVENTBENCH
# Without --input, run reads ./events.csv when it exists: an empty folder makes sure the
# classic rows take the built-in workload.
eb_scratch work
cd "$work"
"$EB_SCRIPTS/machine.sh" > "$out/machine.md"
# One line per run on stdout and in summary.txt.
exec > >(tee "$out/summary.txt")
big=${BIG:-$work/eventbench-10m.csv}
[ -f "$big" ] || "$eb" generate -q --events 10000000 --max-account-id 1000000 --seed 1 --output "$big"

timed() { # name, args...
  local name=$1; shift
  /usr/bin/time -v "$eb" "$@" -q --json "$out/$name.json" > /dev/null 2> "$out/$name.time"
  local j="$out/$name.json" t="$out/$name.time"
  printf '%-30s wall %-10s bound %-5s eff %-7s tput %-9s overshoot p50/p99 %s/%s us  rss %s MB  process %s\n' \
    "$name" "$(jq .wall_time_s "$j")" "$(jq .lower_bound_s "$j")" \
    "$(jq '.efficiency * 10000 | round / 100' "$j")%" "$(jq '.throughput_eps | round' "$j")" \
    "$(jq .overshoot_us.p50 "$j")" "$(jq .overshoot_us.p99 "$j")" \
    "$(grep 'Maximum resident' "$t" | awk '{print int($6/1024)}')" \
    "$(grep 'Elapsed (wall clock)' "$t" | awk '{print $8}')"
}

# The mission: 10,000 events, 1,000 accounts, 1 s, one lane per account.
timed classic-optimal-auto run
timed classic-per-account run --strategy per-account
# A thousand times larger: 10M events, 1M accounts, 1 s.
timed 10m-optimal-auto run --input "$big"
timed 10m-per-account run --input "$big" --strategy per-account
timed 10m-pool-100k run --input "$big" --strategy pool --workers 100000
timed 10m-sharded-100k run --input "$big" --strategy sharded --workers 100000
# Engine cost alone: zero processing time (the bound is 0, so efficiency reads 0).
timed 10m-zero-time-per-account run --input "$big" --strategy per-account --process-time 0s
timed 10m-zero-time-optimal run --input "$big" --process-time 0s
# Virtual clock: "process" is the whole command (load, simulate, verify, report).
timed 10m-virtual-optimal-auto run --input "$big" --clock virtual
timed 10m-virtual-pool-100k run --input "$big" --clock virtual --strategy pool --workers 100000
timed 10m-virtual-sharded-100k run --input "$big" --clock virtual --strategy sharded --workers 100000
