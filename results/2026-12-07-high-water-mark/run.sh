#!/usr/bin/env bash
# The durable intake rate with and without the high-water mark, alternating the two binaries
# in one sitting: serve (durable, --process-time 1ms) under wrk, one request per round trip,
# 64 connections, 8 s per run. Prints one line per run: round, binary, requests/s, the mark's
# size at shutdown, the load average.
#
# Usage: run.sh OLD_BINARY NEW_BINARY [ROUNDS] [STEP]
#   DATA_ROOT  where the data dirs go (default: a scratch folder; /dev/shm takes the disk out)
#   STEP       the event ids' step (results/scripts/wrk-post.lua): 1, ids in sequence (the
#              default), or 2, ids two apart (one mark line per event)
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
old=${1:?old binary}; new=${2:?new binary}; rounds=${3:-6}
step=${4:-1}
root=${DATA_ROOT:-$(mktemp -d)}
port=${PORT:-39378}
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    bin=$old; [ "$v" = new ] && bin=$new
    data=$root/data-$v-$r; rm -rf "$data"
    "$bin" serve --listen 127.0.0.1:$port --process-time 1ms --data-dir "$data" \
      > /dev/null 2>&1 &
    pid=$!
    sleep 1
    rps=$(wrk -t1 -c64 -d8s -s "$EB_SCRIPTS/wrk-post.lua" "http://127.0.0.1:$port/api" -- 1 0 "$step" \
      | awk '/Requests\/sec/ {print $2}')
    kill -INT $pid; wait $pid || true
    mark=$(stat -c %s "$data/queue.mark" 2>/dev/null || echo -)
    echo "$r $v $rps mark=$mark $(eb_load3)"
    rm -rf "$data"
  done
done
