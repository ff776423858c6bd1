#!/usr/bin/env bash
# Session 3 of results/2026-11-28-short-events (issue 16): the whole table again after the
# adaptive lead and the one-worker sleep runtime, medians of 5, CPU time beside each run.
#
#   results/2026-11-28-short-events/session3/run.sh          # 5 repetitions (about 11 minutes)
#   REPS=1 results/2026-11-28-short-events/session3/run.sh   # one quick pass
#   PRIO=normal ...                                          # without `chrt -f 1`
#
# Each repetition holds /work/wt/measure.lock (shared with the other engineers measuring on
# this machine) for about two minutes, so measurements never overlap; builds run outside it.
# Runs alternate optimal/pool and precise/sleep inside a repetition, so load drift hits both
# sides of a comparison alike. Raw reports: raw/<label>-<rep>.json; `uptime` before each run:
# raw/load.txt. Summary: python3 results/2026-11-28-short-events/summarize.py <this dir>/raw
set -euo pipefail
cd "$(dirname "$0")/../../.."
# OUT and WORK may be set by a later session's run.sh that reuses this one (session4/).
OUT=${OUT:-results/2026-11-28-short-events/session3}
WORK=${WORK:-${TMPDIR:-/tmp}/eventbench-short-events-s3}
REPS=${REPS:-5}
LOCK=${LOCK:-/work/wt/measure.lock}
E=target/release/eventbench
if [ "${1:-}" != --rep ]; then
    # `run` without --input reads ./events.csv when it exists; the 1 s rows need the built-in one.
    [ -e events.csv ] && { echo "./events.csv exists: move it away first" >&2; exit 2; }
    cargo build --release --quiet
    mkdir -p "$WORK" "$OUT/raw"
    $E generate -q --events 10000 --max-account-id 1000 --distribution hot:0.03 --seed 1 \
        --output "$WORK/hot.csv"
    gen() { # name max-account-id: the Confluent Parallel Consumer table (results/2026-11-26-durations)
        $E generate -q --events 10000 --max-account-id "$2" --duration uniform:0ms..5ms \
            --seed 20261126 --output "$WORK/$1.csv"
    }
    gen key-1 1; gen key-2 2; gen key-10 10; gen key-1000 1000; gen unordered 10000000
    for rep in $(seq 1 "$REPS"); do
        flock "$LOCK" "$0" --rep "$rep"
    done
    python3 results/2026-11-28-short-events/summarize.py "$OUT/raw"
    exit 0
fi

rep=$2
PRE=(chrt -f 1)
[ "${PRIO:-rt}" = normal ] && PRE=()
one() { # label run-flags...
    local label=$1; shift
    echo "$label-$rep $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)" >> "$OUT/raw/load.txt"
    "${PRE[@]}" $E run -q "$@" --json "$OUT/raw/$label-$rep.json" > /dev/null
}
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
