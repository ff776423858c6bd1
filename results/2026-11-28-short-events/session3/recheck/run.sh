#!/usr/bin/env bash
# The lead's re-check of pass B on a quiet machine (nothing else compiling): the 1 s overshoot
# row and the hot chains, 5 runs each, at normal priority and under chrt -f 1.
# Usage: results/2026-11-28-short-events/session3/recheck/run.sh  (from the repository root)
set -euo pipefail
out="$(dirname "$0")/raw"
mkdir -p "$out"
cargo build --release -q
bin=target/release/eventbench
"$bin" generate --events 10000 --max-account-id 1000 --distribution hot:0.03 --seed 1 \
    --output "$out/hot.csv" 2>/dev/null
for prio in normal rt; do
    run=("$bin")
    [ "$prio" = rt ] && run=(chrt -f 1 "$bin")
    for i in 1 2 3 4 5; do
        echo "$prio builtin $i $(cut -d' ' -f1 /proc/loadavg) $(date -u +%H:%M:%S)" >> "$out/load.txt"
        "${run[@]}" run --quiet --format json --json "$out/builtin-$prio-$i.json" > /dev/null
        for pt in 1ms 100us; do
            "${run[@]}" run --quiet --input "$out/hot.csv" --process-time "$pt" \
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
