#!/usr/bin/env bash
# The original design (sharded, 500 queues) against pool and optimal on the classic workload
# (the built-in 10,000 events / 1,000 accounts). About 20 s.
#   results/2026-11-26-strategies/run.sh
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
. "$out/../scripts/lib.sh"
eb_build --bin eventbench
eb=$EVENTBENCH
# Without --input, run and compare read ./events.csv when it exists: an empty folder makes sure
# they take the built-in workload.
eb_scratch work
cd "$work"
"$EB_SCRIPTS/machine.sh" > "$out/machine.md"
# Virtual clock, 1 s per event: exact schedule lengths.
"$eb" compare -q --workers 10,100,500,1000,auto --strategies sharded,pool,optimal \
  --clock virtual --output-dir "$out/virtual-1s" > "$out/virtual-1s.txt"
# Real clock, 100 ms per event (1/10 scale), W = 500.
for s in sharded pool optimal; do
  "$eb" run -q --workers 500 --strategy $s --process-time 100ms --json "$out/real-100ms-$s.json" \
    --log "$out/real-100ms-$s-log.csv" > "$out/real-100ms-$s.txt"
  printf '%-8s wall %-9s bound %-5s eff %s\n' $s "$(jq .wall_time_s "$out/real-100ms-$s.json")" \
    "$(jq .lower_bound_s "$out/real-100ms-$s.json")" "$(jq .efficiency "$out/real-100ms-$s.json")"
done | tee "$out/summary.txt"
gzip -f "$out"/real-100ms-*-log.csv
