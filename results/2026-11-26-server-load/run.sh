#!/usr/bin/env bash
# Reruns results/2026-11-26-server-load: `serve` on loopback under wrk, one request per write
# (keepalive/), 16 pipelined requests per write (pipelined/), and a full queue answering 503
# (queue-full/). Each folder gets command.txt, machine.txt, wrk.txt, metrics.txt, the report
# and serve's stderr (results/scripts/serve-wrk.sh). About 30 s; needs wrk and curl.
#   results/2026-11-26-server-load/run.sh [OUTDIR]     (default: this folder)
# These runs predate the durable queue, so they run `serve --in-memory` (the only queue then).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
out=${1:-$here}
eb_build
export QUEUE=memory PORT=${PORT:-39200}
run() { # name depth max-queued workers wrk-threads connections duration
  DEPTH=$2 SERVE_FLAGS="--max-queued $3 --workers $4 --leftover $out/$1/leftover.csv" \
    "$EB_SCRIPTS/serve-wrk.sh" "$out/$1" "$5" "$6" "$7"
}
run keepalive 1 1000000 auto 1 64 10s
run pipelined 16 1000000 auto 1 32 10s
run queue-full 16 1000 8 1 32 5s
