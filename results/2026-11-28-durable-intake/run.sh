#!/usr/bin/env bash
# Reruns results/2026-11-28-durable-intake: `serve` with its durable queue and with --in-memory,
# back to back under the same wrk load, each configuration once (about 2.5 minutes; needs wrk
# and curl). One folder per run, as in raw-quiet/ (results/scripts/serve-wrk.sh writes them).
#   results/2026-11-28-durable-intake/run.sh [OUTDIR]   (default: a new raw-<HHMM>/ here)
#   MILLION=0  skips the 45 s run of at least a million durable events
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
out=${1:-$here/raw-$(date -u +%H%M)}
eb_build
run() { # name connections duration depth queue
  DEPTH=$4 QUEUE=$5 "$EB_SCRIPTS/serve-wrk.sh" "$out/$1" 1 "$2" "$3"
}
for conns in 32 256; do
  for mode in durable memory; do
    run "pipelined-c$conns-$mode" "$conns" 10s 16 "$mode"
  done
done
for conns in 64 256; do
  for mode in durable memory; do
    run "keepalive-c$conns-$mode" "$conns" 10s 1 "$mode"
  done
done
# At least a million events through the durable queue, then the size of the drained data dir.
[ "${MILLION:-1}" = 0 ] || run million-durable 256 45s 16 durable
