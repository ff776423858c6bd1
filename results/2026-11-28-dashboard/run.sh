#!/usr/bin/env bash
# Reproduces this folder: the cost of feeding the live dashboard (run with and without
# --dashboard, same workloads, release build), and the browser-test screenshots.
# Usage: results/2026-11-28-dashboard/run.sh
# Needs GNU time; the screenshots need Debian's chromium and chromedriver (as tests/browser.rs).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$EB_ROOT"
OUT=$EB_RESULTS/2026-11-28-dashboard
eb_build --bin eventbench
B=$EVENTBENCH
eb_scratch TMP

"$EB_SCRIPTS/machine.sh" > "$OUT/machine.txt"

"$B" generate -q --events 1000000 --max-account-id 100000 --seed 11 --output "$TMP/zero.csv"
"$B" generate -q --events 10000 --max-account-id 1000 --seed 7 --output "$TMP/sleep.csv"

echo "workload,process_time,dashboard,repeat,wall_time_s,lower_bound_s,efficiency,user_s,sys_s,load1" > "$OUT/overhead.csv"
measure() { # name input process_time dashboard repeat
    local extra=()
    [ "$4" = yes ] && extra=(--dashboard 127.0.0.1:0)
    /usr/bin/time -f "%U %S" -o "$TMP/time" "$B" run -q --input "$2" --process-time "$3" \
        --workers auto --json "$TMP/r.json" "${extra[@]}" > /dev/null 2> "$TMP/err"
    python3 - "$1" "$3" "$4" "$5" "$TMP/r.json" "$TMP/time" >> "$OUT/overhead.csv" <<'PY'
import json, sys
name, pt, dash, rep, rj, tf = sys.argv[1:]
r = json.load(open(rj)); u, s = open(tf).read().split()[-2:]
load = open("/proc/loadavg").read().split()[0]
print(f"{name},{pt},{dash},{rep},{r['wall_time_s']:.4f},{r['lower_bound_s']:.4f},{r['efficiency']:.4f},{u},{s},{load}")
PY
}
for rep in 1 2 3; do
    for dash in no yes; do
        measure zero-time-1M "$TMP/zero.csv" 0ms $dash $rep
        measure sleep-10k "$TMP/sleep.csv" 100ms $dash $rep
    done
done
echo "- Load average after the runs: $(eb_load3)" >> "$OUT/machine.txt"

# The board's own per-event and per-sample cost.
cargo bench -q --bench live 2>&1 | tail -n 11 > "$OUT/bench-live.txt"

# Screenshots of the pages, taken by the browser tests in headless Chromium.
EVENTBENCH_SCREENSHOTS="$OUT" cargo test -q --test browser

# The dark variant (prefers-color-scheme: dark) of a compare.html, straight from Chromium.
"$B" generate -q --events 10000 --max-account-id 1000 --seed 7 --output "$TMP/cmp.csv"
"$B" compare -q --input "$TMP/cmp.csv" --output-dir "$TMP/cmp" > /dev/null
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-dark-mode \
    --blink-settings=preferredColorScheme=0 --window-size=1280,1300 \
    --screenshot="$OUT/compare-dark.png" "file://$TMP/cmp/compare.html" 2> /dev/null
