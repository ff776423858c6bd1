#!/usr/bin/env bash
# Reproduces results/2026-11-28-verify: how fast `eventbench verify` reads a 10M-line log in
# three formats (our CSV, a foreign CSV with unix-second times, a text log read with
# --log-pattern), with elapsed time and peak memory from /usr/bin/time.
#
#   results/2026-11-28-verify/run.sh
#
# The 10M-event workload spreads over 1M accounts; the log comes from a virtual-clock run
# (1 ms per event, 1000 workers), so it is a correct log and every verify exits 0.
# The workload and the logs (about 1.6 GB) go to a scratch folder, or to WORK=dir.
set -euo pipefail
OUT=$(cd "$(dirname "$0")" && pwd)
. "$OUT/../scripts/lib.sh"
[ -n "${WORK:-}" ] || eb_scratch WORK
mkdir -p "$WORK"
eb_build --bin eventbench
E=$EVENTBENCH

"$E" generate -q --events 10000000 --max-account-id 1000000 --seed 7 --output "$WORK/events.csv"
"$E" run -q --input "$WORK/events.csv" --clock virtual --process-time 1ms --workers 1000 \
  --log "$WORK/log.csv" --format json > /dev/null
# The same log as another system might write it: unix seconds with microseconds, and text.
awk -F, 'NR == 1 { print "event_id,account_id,start,end"; next }
  { s = 1795835645000000 + $4; e = 1795835645000000 + $5;
    printf "%d,%d,%d.%06d,%d.%06d\n", $2, $1, s / 1000000, s % 1000000, e / 1000000, e % 1000000 }' \
  "$WORK/log.csv" > "$WORK/foreign.csv"
awk -F, 'NR == 1 { print "worker pool started"; next }
  { e = 1795835645000000 + $5;
    printf "%d.%06d INFO done event=%d account=%d worker=%d\n", e / 1000000, e % 1000000, $2, $1, $3 }' \
  "$WORK/log.csv" > "$WORK/text.log"

{
  echo "# $(date -u +%FT%TZ) $(uname -srm)"
  echo "# $(lscpu | grep 'Model name' | sed 's/ \+/ /g'), $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB"
  echo "# log sizes: $(du -h "$WORK/log.csv" "$WORK/foreign.csv" "$WORK/text.log" | awk '{printf "%s %s; ", $2, $1}')"
} > "$OUT/raw.txt"

measure() { # name, verify flags...
  local name=$1; shift
  echo "== $name  (load before: $(cut -d' ' -f1-3 /proc/loadavg))" >> "$OUT/raw.txt"
  /usr/bin/time -f "elapsed %e s, user %U s, sys %S s, max RSS %M KiB" \
    "$E" verify --events "$WORK/events.csv" --workers 1000 --process-time 1ms "$@" \
    --format json --json "$WORK/$name.json" > /dev/null 2>> "$OUT/raw.txt"
  jq -c '{log_lines, lost, duplicates, ordering_violations, wall_time_s, lower_bound_s, efficiency, time_resolution_us}' \
    "$WORK/$name.json" >> "$OUT/raw.txt"
}
measure eventbench-csv --log "$WORK/log.csv"
measure foreign-csv --log "$WORK/foreign.csv"
measure text-pattern --log "$WORK/text.log" \
  --log-pattern '^(?P<end>\S+) INFO done event=(?P<event_id>\d+) account=(?P<account_id>\d+)'
cat "$OUT/raw.txt"
