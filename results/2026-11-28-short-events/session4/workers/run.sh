#!/usr/bin/env bash
# One tokio worker or two for a sleep-only precise run (2-core VM), normal priority, 5 runs each,
# alternating. Needs a build of eventbench whose engine::sleep_runtime reads its worker count
# from EB_SW (a one-line change made only for this measurement, not in the repository):
#   BIN=/path/to/that/eventbench results/2026-11-28-short-events/session4/workers/run.sh
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BIN:?a build whose sleep runtime reads EB_SW}
hot=${TMPDIR:-/tmp}/eventbench-short-events-s4/hot.csv
for rep in 1 2 3 4 5; do
    for w in 1 2; do
        for pt in 1ms 100us; do
            echo "hot-$pt-w$w-$rep $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)" >> raw/load.txt
            EB_SW=$w "$BIN" run -q --input "$hot" --process-time $pt --json raw/hot-$pt-w$w-$rep.json > /dev/null
        done
    done
done
python3 ../../summarize.py raw
