#!/usr/bin/env bash
# Reproduces results/2026-11-28-short-events (issue 16): short events on the real clock with the
# precise timer and with --timer sleep, wall time against the lower bound and CPU time beside it.
#
#   results/2026-11-28-short-events/run.sh            # 5 repetitions (about 12 minutes)
#   REPS=1 results/2026-11-28-short-events/run.sh     # one quick pass
#   PRIO=rt results/2026-11-28-short-events/run.sh    # each run under `chrt -f 1` (see README)
#
# Raw reports go to raw/<label>-<rep>.json, the load average before each run to raw/load.txt;
# summarize.py prints the medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=results/2026-11-28-short-events
WORK=${TMPDIR:-/tmp}/eventbench-short-events
REPS=${REPS:-5}
mkdir -p "$WORK" "$OUT/raw"
# `run` without --input reads ./events.csv when it exists; the 1 s rows need the built-in one.
[ -e events.csv ] && { echo "./events.csv exists: move it away first" >&2; exit 2; }
cargo build --release --quiet
E=target/release/eventbench
PRE=()
[ "${PRIO:-}" = rt ] && PRE=(chrt -f 1)

$E generate -q --events 10000 --max-account-id 1000 --distribution hot:0.03 --seed 1 --output "$WORK/hot.csv"
gen() { # name max-account-id: the Confluent Parallel Consumer table (results/2026-11-26-durations)
  $E generate -q --events 10000 --max-account-id "$2" --duration uniform:0ms..5ms \
    --seed 20261126 --output "$WORK/$1.csv"
}
gen key-1 1; gen key-2 2; gen key-10 10; gen key-1000 1000; gen unordered 10000000

one() { # label rep run-flags...
  local label=$1 rep=$2; shift 2
  echo "$label-$rep $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/raw/load.txt"
  "${PRE[@]}" $E run -q "$@" --json "$OUT/raw/$label-$rep.json" > /dev/null
}
for rep in $(seq 1 "$REPS"); do
  for timer in precise sleep; do
    one "hot-1ms-$timer" "$rep" --input "$WORK/hot.csv" --process-time 1ms --timer $timer
    one "hot-100us-$timer" "$rep" --input "$WORK/hot.csv" --process-time 100us --timer $timer
    one "builtin-1s-$timer" "$rep" --timer $timer   # the built-in 10k / 1k / 1 s workload
  done
  for w in key-1 key-2 key-10 key-1000 unordered; do
    for s in optimal pool; do
      one "$w-$s" "$rep" --input "$WORK/$w.csv" --workers 100 --strategy $s
    done
  done
  one "key-1000-optimal-sleep" "$rep" --input "$WORK/key-1000.csv" --workers 100 --timer sleep
  one "unordered-optimal-sleep" "$rep" --input "$WORK/unordered.csv" --workers 100 --timer sleep
done
python3 "$OUT/summarize.py" "$OUT/raw"
