#!/usr/bin/env bash
# The lead's re-check of pass B on a quiet machine (nothing else compiling): the 1 s overshoot
# row and the hot chains, 5 runs each, at normal priority and under chrt -f 1.
# Usage: results/2026-11-28-short-events/session3/run-recheck.sh [RAW_DIR]  (default raw-recheck/)
# Prints the medians (what summary-recheck.txt holds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib.sh"
out=${1:-$here/raw-recheck}
mkdir -p "$out"
out=$(cd "$out" && pwd)
eb_build --bin eventbench
bin=$EVENTBENCH
eb_scratch work
# The built-in rows run in the scratch folder: without --input, `run` would read ./events.csv.
cd "$work"
"$bin" generate --events 10000 --max-account-id 1000 --distribution hot:0.03 --seed 1 \
    --output "$work/hot.csv" 2>/dev/null
for prio in normal rt; do
    run=("$bin")
    [ "$prio" = rt ] && run=(chrt -f 1 "$bin")
    for i in 1 2 3 4 5; do
        echo "$prio builtin $i $(eb_load1) $(date -u +%H:%M:%S)" >> "$out/load.txt"
        "${run[@]}" run --quiet --format json --json "$out/builtin-$prio-$i.json" > /dev/null
        for pt in 1ms 100us; do
            "${run[@]}" run --quiet --input "$work/hot.csv" --process-time "$pt" \
                --format json --json "$out/hot-$pt-$prio-$i.json" > /dev/null
        done
    done
done
python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
def rows(pattern, key):
    vals = [key(json.load(open(f))) for f in sorted(glob.glob(f"{out}/{pattern}"))]
    return statistics.median(vals), vals
for prio in ("normal", "rt"):
    m, v = rows(f"builtin-{prio}-*.json", lambda r: r["overshoot_us"]["p50"])
    print(f"{prio:6} built-in 1 s overshoot p50: median {m} us, runs {v}")
    for pt in ("1ms", "100us"):
        m, v = rows(f"hot-{pt}-{prio}-*.json", lambda r: round(r["efficiency"] * 100, 2))
        print(f"{prio:6} hot chain {pt:5}: median {m}%, runs {v}")
PY
