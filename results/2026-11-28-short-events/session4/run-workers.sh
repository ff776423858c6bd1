#!/usr/bin/env bash
# One tokio worker or two for a sleep-only precise run (2-core VM), normal priority, 5 runs each,
# alternating. Needs a build of eventbench whose engine::sleep_runtime reads its worker count
# from EB_SW (a one-line change made only for this measurement, not in the repository):
#   BIN=<that eventbench> results/2026-11-28-short-events/session4/run-workers.sh
# Raw reports in raw-workers/; the medians (summary-workers.md) are printed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib.sh"
BIN=${BIN:?a build whose sleep runtime reads EB_SW}
eb_scratch work
hot=$work/hot.csv
"$BIN" generate -q --events 10000 --max-account-id 1000 --distribution hot:0.03 --seed 1 --output "$hot"
raw=$here/raw-workers
mkdir -p "$raw"
for rep in 1 2 3 4 5; do
    for w in 1 2; do
        for pt in 1ms 100us; do
            echo "hot-$pt-w$w-$rep $(eb_load3) $(date -u +%H:%M:%S)" >> "$raw/load.txt"
            EB_SW=$w "$BIN" run -q --input "$hot" --process-time $pt --json "$raw/hot-$pt-w$w-$rep.json" > /dev/null
        done
    done
done
python3 "$here/../summarize.py" "$raw"
