#!/usr/bin/env bash
# Load test of `eventbench serve` on loopback: wrk posts JSON events with unique ids (1,000
# accounts) for a bounded time, then the server is stopped with SIGINT: it drains, verifies
# every accepted event and reports. Used by results/2026-11-26-server-load and
# results/2026-11-28-durable-intake.
#
# Usage: results/scripts/serve-wrk.sh OUTDIR [WRK_THREADS] [CONNECTIONS] [DURATION]
#   QUEUE=durable|memory  serve's queue (default durable: a data dir OUTDIR/data, its size
#                         during the load and after shutdown in OUTDIR/disk.txt, then removed)
#   DEPTH=N               N > 1: N pipelined HTTP/1.1 requests per write (wrk-post-pipelined.lua)
#   SERVE_FLAGS="..."     more flags for serve, e.g. "--workers 8 --max-queued 1000"
#   PORT=N                the port on 127.0.0.1 (default 39300)
#   EVENTBENCH            the binary (default target/release/eventbench; not built here)
# Writes into OUTDIR: command.txt, machine.txt (and the load after), wrk.txt, metrics.txt
# (/metrics right after the load), serve-report.txt and report.json (the report at shutdown),
# serve-stderr.txt (start-up, shutdown, exit code). Needs wrk and curl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=${1:?output folder}; threads=${2:-1}; conns=${3:-64}; dur=${4:-10s}
port=${PORT:-39300}; depth=${DEPTH:-1}; mode=${QUEUE:-durable}
read -r -a extra <<< "${SERVE_FLAGS:-}"
mkdir -p "$out"
data="$out/data"
case $mode in
  durable) rm -rf "$data"; queue=(--data-dir "$data") ;;
  memory) queue=(--in-memory) ;;
  *) echo "QUEUE must be durable or memory" >&2; exit 2 ;;
esac
script=wrk-post.lua; [ "$depth" -gt 1 ] && script=wrk-post-pipelined.lua
serve=(serve --listen "127.0.0.1:$port" --process-time 1ms "${queue[@]}" "${extra[@]}")
"$EB_SCRIPTS/machine.sh" > "$out/machine.txt"
echo "eventbench ${serve[*]} --json report.json" > "$out/command.txt"
"$EVENTBENCH" "${serve[@]}" --json "$out/report.json" \
  > "$out/serve-report.txt" 2> "$out/serve-stderr.txt" &
server=$!
eb_at_exit "kill -INT $server 2> /dev/null"
sleep 1
echo "wrk -t$threads -c$conns -d$dur --latency -s $script http://127.0.0.1:$port/api -- $threads 0 $depth" >> "$out/command.txt"
wrk -t"$threads" -c"$conns" -d"$dur" --latency -s "$EB_SCRIPTS/$script" \
  "http://127.0.0.1:$port/api" -- "$threads" 0 "$depth" | tee "$out/wrk.txt"
curl -s "http://127.0.0.1:$port/metrics" > "$out/metrics.txt"
echo "- Load average after the load: $(eb_load3)" >> "$out/machine.txt"
[ -d "$data" ] && echo "data dir at the end of the load: $(du -sb "$data" | cut -f1) bytes" >> "$out/disk.txt"
kill -INT "$server"
wait "$server" && rc=0 || rc=$?
echo "server exit code: $rc" >> "$out/serve-stderr.txt"
if [ -d "$data" ]; then
  # The committer compacts once idle; a fresh open + close does the same for a stopped server.
  echo "data dir after drain and shutdown: $(du -sb "$data" | cut -f1) bytes" >> "$out/disk.txt"
  ls -l "$data" >> "$out/disk.txt"
  rm -rf "$data"
fi
head -8 "$out/serve-report.txt"
grep -E "^eventbench_(events_accepted_total|requests_rejected_total|durable_)" "$out/metrics.txt" \
  | grep -v " 0$" || true
