#!/usr/bin/env bash
# Reruns the table of results/2026-11-28-short-events (issue 16): short events on the real clock
# with the precise timer and with --timer sleep, and the Confluent Parallel Consumer workloads
# of results/2026-11-26-durations with `optimal` and `pool` (W = 100), wall time against the
# lower bound and the process CPU time beside it. Every session of this experiment ran this
# table; only the output folder and the priority differ (session3/run.sh, session4/run.sh).
#
#   results/2026-11-28-short-events/run.sh [RAW_DIR]   # 5 repetitions (about 12 minutes)
#   REPS=1 ...            one quick pass
#   PRIO=rt ...           each run under `chrt -f 1` (default: normal priority)
#   MEASURE_LOCK=file     hold this lock during each repetition (builds run outside it)
#   WORK=dir              keep the generated workloads there (default: a scratch folder)
#
# Runs alternate optimal/pool and precise/sleep inside a repetition, so load drift hits both
# sides of a comparison alike. Raw reports: RAW_DIR/<label>-<rep>.json (default raw/ here); the
# load average and UTC time before each run: RAW_DIR/load.txt. At the end summarize.py prints
# the medians as a Markdown table (what summary.md holds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"

if [ "${1:-}" = --rep ]; then
  # One repetition, on its own so that MEASURE_LOCK covers exactly one (flock runs a program).
  rep=$2
  PRE=()
  [ "${PRIO:-normal}" = rt ] && PRE=(chrt -f 1)
  one() { # label run-flags...
    local label=$1; shift
    echo "$label-$rep $(eb_load3) $(date -u +%H:%M:%S)" >> "$RAW/load.txt"
    "${PRE[@]}" "$EVENTBENCH" run -q "$@" --json "$RAW/$label-$rep.json" > /dev/null
  }
  # `run` without --input reads ./events.csv when it exists; the 1 s rows need the built-in one,
  # so runs start in WORK, which holds no events.csv (checked below).
  cd "$WORK"
  for timer in precise sleep; do
    one "hot-1ms-$timer" --input "$WORK/hot.csv" --process-time 1ms --timer $timer
    one "hot-100us-$timer" --input "$WORK/hot.csv" --process-time 100us --timer $timer
    one "builtin-1s-$timer" --timer $timer   # the built-in 10k / 1k / 1 s workload
  done
  for w in key-1 key-2 key-10 key-1000 unordered; do
    for s in optimal pool; do
      one "$w-$s" --input "$WORK/$w.csv" --workers 100 --strategy $s
    done
  done
  one "key-1000-optimal-sleep" --input "$WORK/key-1000.csv" --workers 100 --timer sleep
  one "unordered-optimal-sleep" --input "$WORK/unordered.csv" --workers 100 --timer sleep
  exit 0
fi

RAW=${1:-$here/raw}
mkdir -p "$RAW"
RAW=$(cd "$RAW" && pwd)
[ -n "${WORK:-}" ] || eb_scratch WORK
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
[ -e "$WORK/events.csv" ] && { echo "$WORK/events.csv exists: the 1 s rows would read it" >&2; exit 2; }
export RAW WORK PRIO EVENTBENCH
eb_build --bin eventbench
"$EVENTBENCH" generate -q --events 10000 --max-account-id 1000 --distribution hot:0.03 --seed 1 \
  --output "$WORK/hot.csv"
"$EB_SCRIPTS/gen-durations.sh" "$WORK" key-1 key-2 key-10 key-1000 unordered
for rep in $(seq 1 "${REPS:-5}"); do
  eb_locked "$here/run.sh" --rep "$rep"
done
python3 "$here/summarize.py" "$RAW"
