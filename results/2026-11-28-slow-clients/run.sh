#!/usr/bin/env bash
# Reproduces the slow-client check of issue 17: 5,000 connections that send half a request
# header, against `serve` with the default limits and with --max-connections 1000. The output
# goes to raw.txt here.
#   results/2026-11-28-slow-clients/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
eb_build --bin eventbench
B=$EVENTBENCH
eb_scratch TMP
ulimit -n 20000
out=$here/raw.txt
{
  echo "# $(date -u +%FT%TZ)  $(uptime)"
  "$B" serve --listen 127.0.0.1:39171 --process-time 1ms --data-dir "$TMP/data-1" >/dev/null 2>"$TMP/slow-1.err" & P=$!
  sleep 1
  echo "## default limits (--header-timeout 10s): wait 12 s"
  python3 "$here/slow_clients.py" 39171 5000 12 || echo "client script failed"
  kill -INT $P; wait $P || true; { tail -n +3 "$TMP/slow-1.err" | grep -v "^eventbench" | head -3; } || true
  "$B" serve --listen 127.0.0.1:39172 --process-time 1ms --max-connections 1000 --data-dir "$TMP/data-2" >/dev/null 2>"$TMP/slow-2.err" & P=$!
  sleep 1
  echo "## --max-connections 1000: look after 0.5 s"
  python3 "$here/slow_clients.py" 39172 5000 0.5 || echo "client script failed"
  kill -INT $P; wait $P || true; grep refused "$TMP/slow-2.err" || true
} | tee "$out"
