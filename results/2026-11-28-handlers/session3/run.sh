#!/usr/bin/env bash
# Session 3 of results/2026-11-28-handlers: the http: handler on hyper's connection API (this
# commit) against wrk -c 64 on the same local sink, on 10,000 events / 1,000 accounts (the
# issue's size) and on 200,000 events / 1,000 accounts (a steadier figure), 64 workers.
#
# Usage: results/2026-11-28-handlers/session3/run.sh [repeats]      (default 7)
#   BASELINE_BIN=path  also runs that binary beside ours: a release build of commit 4c1f709, the
#                      reqwest client measured in the earlier sessions
#   MEASURE_LOCK=path  hold this lock (flock) while measuring, not while building
#   PORT=n             the sink's port (default 18091)
#   RAW=dir            where the raw data go (default raw; summary.txt beside, suffixed alike)
# Needs wrk, python3 and GNU time; uses chrt -f 1 (sink, eventbench and wrk alike) when allowed.
set -euo pipefail
cd "$(dirname "$0")"
REPEATS=${1:-7}
ROOT=$(cd ../../.. && pwd)
(cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --example http_sink)
if [ -n "${MEASURE_LOCK:-}" ]; then
  exec flock "$MEASURE_LOCK" env MEASURE_LOCK= REPEATS="$REPEATS" bash ./measure.sh
fi
REPEATS="$REPEATS" bash ./measure.sh
